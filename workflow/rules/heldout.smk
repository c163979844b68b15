# Held-out test sets: ACDC testing/ (Table III) and the LVSC validation split scored against its
# consensus images (Table V), each predicted by a model's K-fold majority vote.


rule predict_heldout:
    input:
        raw_inputs,
        models=lambda w: [f"{d}/model.pt" for d in model_dirs(w.dataset, w.model)],
    output:
        predictions=directory(
            results_path("{dataset}/heldout/predictions/{model}/volumes")
        ),
    log:
        results_path("logs/{dataset}/heldout/predict_{model}.log"),
    benchmark:
        results_path("benchmarks/{dataset}/heldout/predict_{model}.tsv")
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
        split=heldout_flags,
        models=results_path("{dataset}/models/{model}"),
        device=config["training"]["device"],
        reuse=(
            "--reuse-freed-memory"
            if config["training"]["reuse_freed_memory"]
            else "--no-reuse-freed-memory"
        ),
    shell:
        "dmr predict-split --format {params.fmt} {params.raw} {params.reader} {params.split} "
        "--models {params.models} --device {params.device} --threads {threads} "
        "--amp trained {params.reuse} -o {output.predictions} > {log} 2>&1"


rule metrics_heldout:
    input:
        raw_inputs,
        predictions=rules.predict_heldout.output.predictions,
    output:
        metrics=results_path("{dataset}/heldout/metrics/{model}.csv"),
        slices=results_path("{dataset}/heldout/metrics/slices/{model}.csv"),
        clinical=results_path("{dataset}/heldout/metrics/clinical/{model}.csv"),
        status=results_path("{dataset}/heldout/metrics/{model}.status.json"),
    log:
        results_path("logs/{dataset}/heldout/metrics_{model}.log"),
    benchmark:
        results_path("benchmarks/{dataset}/heldout/metrics_{model}.tsv")
    conda:
        "../../envs/dmr.yaml"
    params:
        fmt=dataset_format,
        raw=raw_path,
        reader=reader_flag,
        split=heldout_flags,
        roi=lambda w: (
            f"--roi-margin-mm {heldout_cfg(w.dataset)['roi_margin_mm']}"
            if dataset_format(w) == "lvsc"
            else ""
        ),
        density=config["evaluation"]["myocardial_density"],
    shell:
        "dmr metrics-split --format {params.fmt} {params.raw} {params.reader} {params.split} "
        "--predictions {input.predictions} --dataset {wildcards.dataset} "
        "--model {wildcards.model} {params.roi} --density {params.density} "
        "--slices {output.slices} --clinical {output.clinical} --status {output.status} "
        "-o {output.metrics} > {log} 2>&1"
