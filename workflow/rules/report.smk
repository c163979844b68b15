# The run's one-page HTML report (results/report.html): provenance, the published-vs-reproduced
# summary, every table and figure with its caption, and the data checks. The captions are the
# workflow/report/*.rst files that `snakemake --report` uses too.


rule report_config:
    output:
        results_path("report/config.json"),
    log:
        results_path("logs/report/config.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        # The resolved config (schema defaults filled in); a changed config reruns this rule.
        config=json.dumps(config),
    shell:
        "dmr write-config --config-json {params.config:q} -o {output} > {log} 2>&1"


rule report:
    input:
        config=rules.report_config.output[0],
        summary=results_path("tables/paper_vs_reproduced.json"),
        tables=lambda w: report_tables(),
        figures=lambda w: report_figures(),
        checks=expand(results_path("{dataset}/data_check.json"), dataset=DATASETS),
        histories=lambda w: fold_files(DATASETS, MODELS, "history.csv"),
    output:
        results_path("report.html"),
    log:
        results_path("logs/report/report.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        # The config file(s) the run was started with (the default, then any --configfile).
        config_files=" ".join(shlex.quote(f) for f in config_file_names()),
        captions=f"{workflow.basedir}/workflow/report",
        workflow_dir=workflow.basedir,
    shell:
        "dmr report --config {input.config} --config-files {params.config_files} "
        "--summary {input.summary} "
        "--tables {input.tables} --figures {input.figures} --data-checks {input.checks} "
        "--histories {input.histories} --captions {params.captions:q} "
        "--workflow-dir {params.workflow_dir:q} -o {output} > {log} 2>&1"


rule plan:
    input:
        config=rules.report_config.output[0],
        # Last of all: every job's benchmark record and folder is there to be measured.
        report=results_path("report.html"),
        histories=lambda w: fold_files(DATASETS, MODELS, "history.csv"),
    output:
        md=results_path("plan.md"),
        json=results_path("plan.json"),
    log:
        results_path("logs/report/plan.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        target=lambda w: plan_target(),
        results=lambda w, output: subpath(output.md, parent=True),
        resources=RESOURCES,
    shell:
        "dmr plan --config {input.config} --target {params.target:q} "
        "--results {params.results:q} --resources {params.resources:q} "
        "-o {output.md} --json {output.json} > {log} 2>&1"
