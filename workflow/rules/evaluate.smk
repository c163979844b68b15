# Inference and evaluation: every test case predicted by its fold's model, then the paper's metrics.


rule predict_cv:
    input:
        raw_inputs,
        folds=rules.folds.output.folds,
        models=lambda w: [f"{d}/model.pt" for d in model_dirs(w.dataset, w.model)],
        checkpoints=lambda w: [
            f"{d}/checkpoint.pt" for d in model_dirs(w.dataset, w.model)
        ],
    output:
        predictions=directory(results_path("{dataset}/predictions/{model}/volumes")),
        timing=results_path("{dataset}/predictions/{model}/timing.csv"),
    log:
        results_path("logs/{dataset}/predict/{model}.log"),
    benchmark:
        results_path("benchmarks/{dataset}/predict/{model}.tsv")
    conda:
        "../../envs/dmr.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=gpu_request(),
        gpu_slot=1 if wants_cuda() else 0,
        mem_mb=4096,
    params:
        fmt=dataset_format,
        raw=raw_path,
        reader=reader_flag,
        models=results_path("{dataset}/models/{model}"),
        device=config["training"]["device"],
        reuse=(
            "--reuse-freed-memory"
            if config["training"]["reuse_freed_memory"]
            else "--no-reuse-freed-memory"
        ),
    shell:
        "dmr predict-cv --format {params.fmt} {params.raw} {params.reader} "
        "--folds {input.folds} "
        "--models {params.models} --device {params.device} --threads {threads} "
        "--amp trained {params.reuse} "
        "--timing {output.timing} -o {output.predictions} > {log} 2>&1"


rule metrics:
    input:
        raw_inputs,
        folds=rules.folds.output.folds,
        predictions=rules.predict_cv.output.predictions,
    output:
        metrics=results_path("{dataset}/metrics/{model}.csv"),
        slices=results_path("{dataset}/metrics/slices/{model}.csv"),
        clinical=results_path("{dataset}/metrics/clinical/{model}.csv"),
    log:
        results_path("logs/{dataset}/metrics/{model}.log"),
    benchmark:
        results_path("benchmarks/{dataset}/metrics/{model}.tsv")
    conda:
        "../../envs/dmr.yaml"
    params:
        fmt=dataset_format,
        raw=raw_path,
        reader=reader_flag,
        density=config["evaluation"]["myocardial_density"],
    shell:
        "dmr metrics --format {params.fmt} {params.raw} {params.reader} "
        "--predictions {input.predictions} "
        "--folds {input.folds} --dataset {wildcards.dataset} --model {wildcards.model} "
        "--density {params.density} --slices {output.slices} --clinical {output.clinical} "
        "-o {output.metrics} > {log} 2>&1"
