# The paper's figures (Figs. 1, 4-7, S1-S5): PNG + PDF under results/figures/, plus the CSV of the
# numbers each data figure plots. Which figures are requested, and from which datasets and models,
# is decided in common/figure_inputs.smk (figure_names, own_figure_datasets); a rule here only
# passes the files to `dmr figure`.


rule fig1:
    input:
        raw=lambda w: raw_inputs_of(role_dataset("acdc")),
        metrics=lambda w: metric_files([role_dataset("acdc")], [case_model()]),
        predictions=lambda w: (
            f"{RESULTS}/{role_dataset('acdc')}/predictions/{case_model()}/volumes"
        ),
    output:
        png=report(
            results_path("figures/fig1.png"),
            caption="../report/fig1.rst",
            category="Figures",
        ),
        pdf=results_path("figures/fig1.pdf"),
    log:
        results_path("logs/figures/fig1.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        raw=lambda w: raw_path_of(role_dataset("acdc")),
        prefix=subpath(output.png, strip_suffix=".png"),
    shell:
        "dmr figure fig1 --format acdc --raw {params.raw} --metrics {input.metrics} "
        "--predictions {input.predictions} --out-prefix {params.prefix} > {log} 2>&1"


rule fig4a:
    input:
        slices=lambda w: metric_files(
            [role_dataset("acdc")], present(PAPER_MODELS), "slices/"
        ),
    output:
        png=report(
            results_path("figures/fig4a.png"),
            caption="../report/fig4a.rst",
            category="Figures",
        ),
        pdf=results_path("figures/fig4a.pdf"),
        csv=results_path("figures/fig4a.csv"),
    log:
        results_path("logs/figures/fig4a.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr figure fig4a --slices {input.slices} {params.bootstrap} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule fig4b:
    input:
        slices=lambda w: metric_files(
            [role_dataset("lvsc")], present(PAPER_MODELS), "slices/"
        ),
    output:
        png=report(
            results_path("figures/fig4b.png"),
            caption="../report/fig4b.rst",
            category="Figures",
        ),
        pdf=results_path("figures/fig4b.pdf"),
        csv=results_path("figures/fig4b.csv"),
    log:
        results_path("logs/figures/fig4b.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr figure fig4b --slices {input.slices} {params.bootstrap} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule fig5:
    input:
        metrics=lambda w: metric_files([role_dataset("acdc")], present(PAPER_MODELS)),
    output:
        png=report(
            results_path("figures/fig5.png"),
            caption="../report/fig5.rst",
            category="Figures",
        ),
        pdf=results_path("figures/fig5.pdf"),
        csv=results_path("figures/fig5.csv"),
    log:
        results_path("logs/figures/fig5.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        bootstrap=bootstrap_args(),
    shell:
        "dmr figure fig5 --metrics {input.metrics} {params.bootstrap} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule fig6:
    input:
        metrics=lambda w: metric_files(role_datasets(), present(WEIGHTING_MODELS)),
    output:
        png=report(
            results_path("figures/fig6.png"),
            caption="../report/fig6.rst",
            category="Figures",
        ),
        pdf=results_path("figures/fig6.pdf"),
        csv=results_path("figures/fig6.csv"),
    log:
        results_path("logs/figures/fig6.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        bootstrap=bootstrap_args(),
        levels=lambda w: level_options(present(WEIGHTING_MODELS), "weighting"),
        labels=lambda w: dataset_labels(),
        absent=lambda w: absent_options(WEIGHTING_MODELS),
    shell:
        "dmr figure fig6 --metrics {input.metrics} {params.levels} {params.labels} "
        "{params.absent} {params.bootstrap} --out-prefix {params.prefix} > {log} 2>&1"


rule fig7:
    input:
        metrics=lambda w: metric_files(role_datasets(), present(THRESHOLD_MODELS)),
    output:
        png=report(
            results_path("figures/fig7.png"),
            caption="../report/fig7.rst",
            category="Figures",
        ),
        pdf=results_path("figures/fig7.pdf"),
        csv=results_path("figures/fig7.csv"),
    log:
        results_path("logs/figures/fig7.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        bootstrap=bootstrap_args(),
        levels=lambda w: level_options(present(THRESHOLD_MODELS), "threshold"),
        labels=lambda w: dataset_labels(),
        absent=lambda w: absent_options(THRESHOLD_MODELS),
    shell:
        "dmr figure fig7 --metrics {input.metrics} {params.levels} {params.labels} "
        "{params.absent} {params.bootstrap} --out-prefix {params.prefix} > {log} 2>&1"


rule figS1:
    input:
        raw=lambda w: raw_inputs_of(role_dataset("acdc")),
        metrics=lambda w: metric_files([role_dataset("acdc")], [case_model()]),
        predictions=lambda w: [
            f"{RESULTS}/{role_dataset('acdc')}/predictions/{m}/volumes"
            for m in present(PAPER_MODELS)
        ],
    output:
        png=report(
            results_path("figures/figS1.png"),
            caption="../report/figS1.rst",
            category="Figures",
        ),
        pdf=results_path("figures/figS1.pdf"),
    log:
        results_path("logs/figures/figS1.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        raw=lambda w: raw_path_of(role_dataset("acdc")),
        prefix=subpath(output.png, strip_suffix=".png"),
        predictions=lambda w, input: " ".join(
            f"--prediction {m}={folder}"
            for m, folder in zip(present(PAPER_MODELS), input.predictions)
        ),
    shell:
        "dmr figure figS1 --format acdc --raw {params.raw} --metrics {input.metrics} "
        "{params.predictions} --out-prefix {params.prefix} > {log} 2>&1"


rule figS2:
    input:
        checkpoints=lambda w: fold_files(
            [role_dataset("acdc")], [distance_map_model()], "checkpoint.pt"
        ),
        metrics=lambda w: metric_files([role_dataset("acdc")], [distance_map_model()]),
        preprocessed=lambda w: f"{RESULTS}/{role_dataset('acdc')}/preprocessed/meta.json",
    output:
        png=report(
            results_path("figures/figS2.png"),
            caption="../report/figS2.rst",
            category="Figures",
        ),
        pdf=results_path("figures/figS2.pdf"),
    log:
        results_path("logs/figures/figS2.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        preprocessed=subpath(input.preprocessed, parent=True),
    shell:
        "dmr figure figS2 --checkpoints {input.checkpoints} --metrics {input.metrics} "
        "--preprocessed {params.preprocessed} --out-prefix {params.prefix} > {log} 2>&1"


rule figS3:
    input:
        base=lambda w: fold_files([role_dataset("acdc")], ["unet-base"], "model.pt"),
        dmr=lambda w: fold_files([role_dataset("acdc")], ["unet-dmr"], "model.pt"),
        metrics=lambda w: metric_files([role_dataset("acdc")], ["unet-dmr"]),
        preprocessed=lambda w: f"{RESULTS}/{role_dataset('acdc')}/preprocessed/meta.json",
    output:
        png=report(
            results_path("figures/figS3.png"),
            caption="../report/figS3.rst",
            category="Figures",
        ),
        pdf=results_path("figures/figS3.pdf"),
    log:
        results_path("logs/figures/figS3.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        preprocessed=subpath(input.preprocessed, parent=True),
    shell:
        "dmr figure figS3 --base-models {input.base} --dmr-models {input.dmr} "
        "--metrics {input.metrics} --preprocessed {params.preprocessed} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule figS4:
    input:
        histories=lambda w: fold_files(DATASETS, MODELS, "history.csv"),
    output:
        png=report(
            results_path("figures/figS4.png"),
            caption="../report/figS4.rst",
            category="Figures",
        ),
        pdf=results_path("figures/figS4.pdf"),
        csv=results_path("figures/figS4.csv"),
    log:
        results_path("logs/figures/figS4.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        bootstrap=bootstrap_args(),
        labels=lambda w: dataset_labels(),
    shell:
        "dmr figure figS4 --histories {input.histories} {params.labels} {params.bootstrap} "
        "--out-prefix {params.prefix} > {log} 2>&1"


rule figS5:
    input:
        models=lambda w: fold_files(role_datasets(), weight_pair_models(), "model.pt"),
    output:
        png=report(
            results_path("figures/figS5.png"),
            caption="../report/figS5.rst",
            category="Figures",
        ),
        pdf=results_path("figures/figS5.pdf"),
        csv=results_path("figures/figS5.csv"),
    log:
        results_path("logs/figures/figS5.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        labels=lambda w: dataset_labels(),
    shell:
        "dmr figure figS5 --models {input.models} {params.labels} "
        "--out-prefix {params.prefix} > {log} 2>&1"


# Figs. 4 and 5 for every dataset outside the paper's ACDC/LVSC roles (own_figure_datasets):
# Dice per slice region and per group (M&Ms: vendor) of its base and DMR networks.
rule figure_regions:
    input:
        slices=lambda w: metric_files([w.dataset], paper_networks(), "slices/"),
    output:
        png=report(
            results_path("figures/regions_{dataset}.png"),
            caption="../report/dataset_regions.rst",
            category="Figures (your data)",
        ),
        pdf=results_path("figures/regions_{dataset}.pdf"),
        csv=results_path("figures/regions_{dataset}.csv"),
    log:
        results_path("logs/figures/regions_{dataset}.log"),
    wildcard_constraints:
        dataset=own_figure_pattern(),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        bootstrap=bootstrap_args(),
        title=lambda w: f"{w.dataset}: Dice per slice region",
    shell:
        "dmr figure regions --slices {input.slices} --title {params.title:q} "
        "{params.bootstrap} --out-prefix {params.prefix} > {log} 2>&1"


rule figure_groups:
    input:
        metrics=lambda w: metric_files([w.dataset], paper_networks()),
    output:
        png=report(
            results_path("figures/groups_{dataset}.png"),
            caption="../report/dataset_groups.rst",
            category="Figures (your data)",
        ),
        pdf=results_path("figures/groups_{dataset}.pdf"),
        csv=results_path("figures/groups_{dataset}.csv"),
    log:
        results_path("logs/figures/groups_{dataset}.log"),
    wildcard_constraints:
        dataset=own_figure_pattern(),
    conda:
        "../../envs/dmr.yaml"
    params:
        prefix=subpath(output.png, strip_suffix=".png"),
        bootstrap=bootstrap_args(),
        label=lambda w: group_label(w.dataset),
        title=lambda w: f"{w.dataset}: Dice per {group_label(w.dataset)}",
    shell:
        "dmr figure groups --metrics {input.metrics} --group-label {params.label:q} "
        "--title {params.title:q} {params.bootstrap} --out-prefix {params.prefix} > {log} 2>&1"
