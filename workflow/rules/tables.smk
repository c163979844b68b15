# The paper's tables, derived from the per-case metric tables and the training/inference records.
# Each writes results/tables/<name>.{csv,md,tex,html} and its cells (value, 95 % bootstrap CI, n,
# p-value, marker per number) to results/stats/<name>.csv. Which dataset plays the ACDC / LVSC
# role is `tables.acdc` / `tables.lvsc`; the inputs are built in common/outputs.smk.


rule table1:
    input:
        histories=lambda w: [
            f"{d}/history.csv"
            for ds in DATASETS
            for m in MODELS
            for d in model_dirs(ds, m)
        ],
        timings=expand(
            results_path("{dataset}/predictions/{model}/timing.csv"),
            dataset=DATASETS,
            model=MODELS,
        ),
    output:
        csv=report(
            results_path("tables/table1.csv"),
            caption="../report/table1.rst",
            category="Tables",
        ),
        md=results_path("tables/table1.md"),
        tex=results_path("tables/table1.tex"),
        html=results_path("tables/table1.html"),
        cells=cells_report("table1"),
    log:
        results_path("logs/tables/table1.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        width=config["tables"]["table1_width"],
        bootstrap=bootstrap_args(),
    shell:
        "dmr table1 --histories {input.histories} --timings {input.timings} "
        "--width {params.width} {params.bootstrap} --cells {output.cells} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule table2a:
    input:
        metrics=lambda w: role_metrics("acdc"),
    output:
        csv=report(
            results_path("tables/table2a.csv"),
            caption="../report/table2a.rst",
            category="Tables",
        ),
        md=results_path("tables/table2a.md"),
        tex=results_path("tables/table2a.tex"),
        html=results_path("tables/table2a.html"),
        cells=cells_report("table2a"),
    log:
        results_path("logs/tables/table2a.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr table2a --metrics {input.metrics} {params.bootstrap} --cells {output.cells} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule table2b:
    input:
        clinical=lambda w: role_metrics("acdc", "clinical"),
    output:
        csv=report(
            results_path("tables/table2b.csv"),
            caption="../report/table2b.rst",
            category="Tables",
        ),
        md=results_path("tables/table2b.md"),
        tex=results_path("tables/table2b.tex"),
        html=results_path("tables/table2b.html"),
        cells=cells_report("table2b"),
    log:
        results_path("logs/tables/table2b.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr table2b --clinical {input.clinical} {params.bootstrap} --cells {output.cells} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule table3:
    input:
        metrics=lambda w: heldout_input("acdc", "metrics"),
        clinical=lambda w: heldout_input("acdc", "clinical"),
        status=lambda w: heldout_input("acdc", "status"),
    output:
        csv=report(
            results_path("tables/table3.csv"),
            caption="../report/table3.rst",
            category="Tables",
        ),
        md=results_path("tables/table3.md"),
        tex=results_path("tables/table3.tex"),
        html=results_path("tables/table3.html"),
        cells=cells_report("table3"),
    log:
        results_path("logs/tables/table3.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr table3 --metrics {input.metrics} --clinical {input.clinical} "
        "--status {input.status} {params.bootstrap} --cells {output.cells} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule table4:
    input:
        metrics=lambda w: role_metrics("lvsc"),
        clinical=lambda w: role_metrics("lvsc", "clinical"),
    output:
        csv=report(
            results_path("tables/table4.csv"),
            caption="../report/table4.rst",
            category="Tables",
        ),
        md=results_path("tables/table4.md"),
        tex=results_path("tables/table4.tex"),
        html=results_path("tables/table4.html"),
        cells=cells_report("table4"),
    log:
        results_path("logs/tables/table4.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr table4 --metrics {input.metrics} --clinical {input.clinical} "
        "{params.bootstrap} --cells {output.cells} --out-prefix {params.prefix} > {log} 2>&1"


rule table5:
    input:
        slices=lambda w: heldout_input("lvsc", "slices"),
        status=lambda w: heldout_input("lvsc", "status"),
    output:
        csv=report(
            results_path("tables/table5.csv"),
            caption="../report/table5.rst",
            category="Tables",
        ),
        md=results_path("tables/table5.md"),
        tex=results_path("tables/table5.tex"),
        html=results_path("tables/table5.html"),
        cells=cells_report("table5"),
    log:
        results_path("logs/tables/table5.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        bootstrap=bootstrap_args(),
        roi=lambda w: (
            "counts inside the slice's region of interest: the bounding box of the consensus "
            "and automatic myocardium, enlarged by "
            f"{heldout_cfg(table_role('lvsc'))['roi_margin_mm']:g} mm on each side (our reading "
            "of Suinesiaputra et al., MedIA 2014)"
        ),
    shell:
        "dmr table5 --slices {input.slices} --status {input.status} --roi-note {params.roi:q} "
        "{params.bootstrap} --cells {output.cells} --out-prefix {params.prefix} > {log} 2>&1"


rule table6a:
    input:
        metrics=lambda w: cross_metrics("acdc", "lvsc"),
        folds=lambda w: cross_metrics("acdc", "lvsc", "folds/"),
    output:
        csv=report(
            results_path("tables/table6a.csv"),
            caption="../report/table6a.rst",
            category="Tables",
        ),
        md=results_path("tables/table6a.md"),
        tex=results_path("tables/table6a.tex"),
        html=results_path("tables/table6a.html"),
        cells=cells_report("table6a"),
    log:
        results_path("logs/tables/table6a.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr table6 --part a --metrics {input.metrics} --fold-metrics {input.folds} "
        "{params.bootstrap} "
        "--cells {output.cells} --out-prefix {params.prefix} > {log} 2>&1"


rule table6b:
    input:
        metrics=lambda w: cross_metrics("lvsc", "acdc"),
        folds=lambda w: cross_metrics("lvsc", "acdc", "folds/"),
    output:
        csv=report(
            results_path("tables/table6b.csv"),
            caption="../report/table6b.rst",
            category="Tables",
        ),
        md=results_path("tables/table6b.md"),
        tex=results_path("tables/table6b.tex"),
        html=results_path("tables/table6b.html"),
        cells=cells_report("table6b"),
    log:
        results_path("logs/tables/table6b.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr table6 --part b --metrics {input.metrics} --fold-metrics {input.folds} "
        "{params.bootstrap} "
        "--cells {output.cells} --out-prefix {params.prefix} > {log} 2>&1"


rule results_table:
    input:
        metrics=lambda w: generic_tables()[w.name][1],
        folds=lambda w: generic_tables()[w.name][3],
    output:
        csv=report(
            results_path("tables/{name}.csv"),
            caption="../report/results_table.rst",
            category="Tables (your data)",
        ),
        md=results_path("tables/{name}.md"),
        tex=results_path("tables/{name}.tex"),
        html=results_path("tables/{name}.html"),
        cells=results_path("stats/{name}.csv"),
    log:
        results_path("logs/tables/{name}.log"),
    wildcard_constraints:
        name=r"(results|lovo|cross)_[A-Za-z0-9_\-]+",
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        bootstrap=bootstrap_args(),
        kind=lambda w: generic_tables()[w.name][0],
        group=lambda w: generic_tables()[w.name][2],
        folds=lambda w, input: (
            f"--fold-metrics {' '.join(input.folds)}" if input.folds else ""
        ),
    shell:
        "dmr results-table --kind {params.kind} --name {wildcards.name} "
        "--group-label {params.group} --metrics {input.metrics} {params.folds} "
        "{params.bootstrap} "
        "--cells {output.cells} --out-prefix {params.prefix} > {log} 2>&1"


rule paper_vs_reproduced:
    input:
        unpack(comparison_figures),
        cells=stats_cells(),
    output:
        csv=report(
            results_path("tables/paper_vs_reproduced.csv"),
            caption="../report/paper_vs_reproduced.rst",
            category="Tables",
        ),
        md=results_path("tables/paper_vs_reproduced.md"),
        json=results_path("tables/paper_vs_reproduced.json"),
    log:
        results_path("logs/tables/paper_vs_reproduced.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.csv, strip_suffix=".csv"),
        figures=figure_options,
        phantoms=[d for d in DATASETS if is_phantom(d)],
        acdc=config["tables"]["acdc"],
        lvsc=config["tables"]["lvsc"],
    shell:
        "dmr paper-vs-reproduced --cells {input.cells} {params.figures} "
        "--phantom-datasets {params.phantoms} --acdc '{params.acdc}' --lvsc '{params.lvsc}' "
        "-o {params.prefix} > {log} 2>&1"


rule text_cells:
    input:
        metrics=lambda w: text_inputs()["metrics"],
        cross=lambda w: text_inputs()["cross"],
        histories=lambda w: text_inputs()["histories"],
    output:
        cells=results_path("stats/text.csv"),
    log:
        results_path("logs/tables/text_cells.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        bootstrap=bootstrap_args(),
        metrics=lambda w, input: (
            f"--metrics {' '.join(input.metrics)}" if input.metrics else ""
        ),
        cross=lambda w, input: f"--cross {' '.join(input.cross)}" if input.cross else "",
        histories=lambda w, input: (
            f"--histories {' '.join(input.histories)}" if input.histories else ""
        ),
    shell:
        "dmr text-cells {params.metrics} {params.cross} {params.histories} "
        "{params.bootstrap} --cells {output.cells} > {log} 2>&1"
