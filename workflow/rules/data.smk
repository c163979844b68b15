# Data stage: generate phantoms (embedded default) or download a public dataset -> check the raw
# folder -> overview figure.


rule phantoms:
    output:
        root=directory(resources_path("{dataset}")),
    log:
        results_path("logs/{dataset}/phantoms.log"),
    benchmark:
        results_path("benchmarks/{dataset}/phantoms.tsv")
    conda:
        "../../envs/dmr.yaml"
    params:
        fmt=dataset_format,
        cases=lambda w: dataset_cfg(w)["phantom"]["cases"],
        testing=lambda w: dataset_cfg(w)["phantom"]["testing_cases"],
        seed=lambda w: dataset_cfg(w)["phantom"]["seed"],
        domain=lambda w: json.dumps(dataset_cfg(w)["phantom"]["domain"]),
    shell:
        "dmr phantoms --format {params.fmt} --cases {params.cases} "
        "--testing-cases {params.testing} --seed {params.seed} "
        "--domain-json '{params.domain}' -o {output.root} > {log} 2>&1"


rule download:
    output:
        root=directory(resources_path("downloaded/{dataset}")),
    log:
        results_path("logs/{dataset}/download.log"),
    benchmark:
        results_path("benchmarks/{dataset}/download.tsv")
    # On a cluster, compute nodes often have no internet: fetch on the submitting machine.
    localrule: True
    conda:
        "../../envs/dmr.yaml"
    params:
        fmt=dataset_format,
        url=lambda w: dataset_cfg(w)["download"]["url"],
        sha256=lambda w: (
            f"--sha256 {dataset_cfg(w)['download']['sha256']}"
            if dataset_cfg(w)["download"]["sha256"]
            else ""
        ),
    shell:
        "dmr download --format {params.fmt} --url {params.url:q} {params.sha256} "
        "-o {output.root} > {log} 2>&1"


rule check_data:
    input:
        raw_inputs,
    output:
        report=results_path("{dataset}/data_check.json"),
    log:
        results_path("logs/{dataset}/check_data.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        fmt=dataset_format,
        raw=raw_path,
        reader=reader_flag,
    shell:
        "dmr check-data --format {params.fmt} {params.raw} {params.reader} "
        "-o {output.report} > {log} 2>&1"


rule figure_dataset:
    input:
        raw_inputs,
        check=rules.check_data.output.report,
    output:
        report(
            results_path("figures/{kind}_{dataset}.png"),
            caption="../report/dataset_figure.rst",
            category="Data",
        ),
    log:
        results_path("logs/{dataset}/figure_{kind}.log"),
    wildcard_constraints:
        kind="phantoms|data",
    conda:
        "../../envs/dmr.yaml"
    params:
        fmt=dataset_format,
        raw=raw_path,
        reader=reader_flag,
    shell:
        "dmr figure-phantoms --format {params.fmt} {params.raw} {params.reader} "
        "-o {output} > {log} 2>&1"
