# The paper's tables, derived from the per-case metric tables and the training/inference records.


rule table1:
    input:
        histories=lambda w: [
            f"{d}/history.csv"
            for ds in DATASETS
            for m in MODELS
            for d in model_dirs(ds, m)
        ],
        timings=expand(
            "results/{dataset}/predictions/{model}/timing.csv",
            dataset=DATASETS,
            model=MODELS,
        ),
    output:
        csv=report(
            "results/tables/table1.csv",
            caption="../report/table1.rst",
            category="Tables",
        ),
        md="results/tables/table1.md",
        tex="results/tables/table1.tex",
    log:
        "results/logs/tables/table1.log",
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        width=config["tables"]["table1_width"],
    shell:
        "dmr table1 --histories {input.histories} --timings {input.timings} "
        "--width {params.width} --out-prefix {params.prefix} > {log} 2>&1"


rule table2a:
    input:
        metrics=lambda w: expand(
            "results/{dataset}/metrics/{model}.csv",
            dataset=table2_dataset(),
            model=MODELS,
        ),
    output:
        csv=report(
            "results/tables/table2a.csv",
            caption="../report/table2a.rst",
            category="Tables",
        ),
        md="results/tables/table2a.md",
        tex="results/tables/table2a.tex",
    log:
        "results/logs/tables/table2a.log",
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
    shell:
        "dmr table2a --metrics {input.metrics} --out-prefix {params.prefix} > {log} 2>&1"
