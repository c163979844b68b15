# Cross-dataset evaluation (Table VI, and a table per other pair): the K fold models of {model}
# trained on {train} predict every case (ED and ES) of {test} by majority vote; the structures
# both datasets annotate are scored (ACDC x LVSC: the myocardium).


rule predict_cross:
    input:
        lambda w: raw_inputs_of(w.test),
        models=lambda w: [f"{d}/model.pt" for d in model_dirs(w.train, w.model)],
    output:
        predictions=directory(
            results_path("cross/{train}_to_{test}/predictions/{model}/volumes")
        ),
        # Each fold model's own prediction: does a difference replicate in every training?
        each=directory(
            results_path("cross/{train}_to_{test}/predictions/{model}/folds")
        ),
    log:
        results_path("logs/cross/{train}_to_{test}/predict_{model}.log"),
    benchmark:
        results_path("benchmarks/cross/{train}_to_{test}/predict_{model}.tsv")
    conda:
        "../../envs/dmr.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=gpu_request(),
        gpu_slot=1 if wants_cuda() else 0,
        mem_mb=4096,
    params:
        fmt=lambda w: config["datasets"][w.test]["format"],
        raw=lambda w: raw_path_of(w.test),
        reader=lambda w: reader_options_of(w.test),
        models=results_path("{train}/models/{model}"),
        device=config["training"]["device"],
        reuse=(
            "--reuse-freed-memory"
            if config["training"]["reuse_freed_memory"]
            else "--no-reuse-freed-memory"
        ),
    shell:
        "dmr predict-split --format {params.fmt} {params.raw} {params.reader} "
        "--split training --frames ed_es "
        "--models {params.models} --device {params.device} --threads {threads} "
        "--amp trained {params.reuse} --each-model {output.each} "
        "-o {output.predictions} > {log} 2>&1"


rule metrics_cross:
    input:
        lambda w: raw_inputs_of(w.test),
        predictions=rules.predict_cross.output.predictions,
        each=rules.predict_cross.output.each,
    output:
        metrics=results_path("cross/{train}_to_{test}/metrics/{model}.csv"),
        slices=results_path("cross/{train}_to_{test}/metrics/slices/{model}.csv"),
        clinical=results_path("cross/{train}_to_{test}/metrics/clinical/{model}.csv"),
        status=results_path("cross/{train}_to_{test}/metrics/{model}.status.json"),
        each=results_path("cross/{train}_to_{test}/metrics/folds/{model}.csv"),
    log:
        results_path("logs/cross/{train}_to_{test}/metrics_{model}.log"),
    benchmark:
        results_path("benchmarks/cross/{train}_to_{test}/metrics_{model}.tsv")
    conda:
        "../../envs/dmr.yaml"
    params:
        fmt=lambda w: config["datasets"][w.test]["format"],
        structures=lambda w: ",".join(shared_structures(w.train, w.test)),
        raw=lambda w: raw_path_of(w.test),
        reader=lambda w: reader_options_of(w.test),
        density=config["evaluation"]["myocardial_density"],
    shell:
        "dmr metrics-split --format {params.fmt} {params.raw} {params.reader} "
        "--split training --frames ed_es "
        "--predictions {input.predictions} --dataset {wildcards.train}_to_{wildcards.test} "
        "--model {wildcards.model} --structures {params.structures} "
        "--density {params.density} --slices {output.slices} --clinical {output.clinical} "
        "--status {output.status} --each-model {input.each} "
        "--each-model-metrics {output.each} -o {output.metrics} > {log} 2>&1"
