# Preprocessing stage: resampled, normalised slices + distance maps, augmented copies, fold manifest.


rule preprocess:
    input:
        raw_inputs,
        check=rules.check_data.output.report,
    output:
        images=results_path("{dataset}/preprocessed/images.npy"),
        labels=results_path("{dataset}/preprocessed/labels.npy"),
        distmaps=results_path("{dataset}/preprocessed/distmaps.npy"),
        slices=results_path("{dataset}/preprocessed/slices.csv"),
        cases=results_path("{dataset}/preprocessed/cases.csv"),
        meta=results_path("{dataset}/preprocessed/meta.json"),
    log:
        results_path("logs/{dataset}/preprocess.log"),
    benchmark:
        results_path("benchmarks/{dataset}/preprocess.tsv")
    conda:
        "../../envs/dmr.yaml"
    resources:
        mem_mb=4096,
    params:
        fmt=dataset_format,
        raw=raw_path,
        reader=reader_flag,
        outdir=subpath(output.meta, parent=True),
        spacing=lambda w: dataset_cfg(w)["preprocess"]["spacing"],
        size=lambda w: dataset_cfg(w)["preprocess"]["size"],
        clip=lambda w: dataset_cfg(w)["preprocess"]["clip_percentile"],
        frames=lambda w: dataset_cfg(w)["preprocess"]["frames"],
    shell:
        "dmr preprocess --format {params.fmt} {params.raw} {params.reader} "
        "--spacing {params.spacing} "
        "--size {params.size} --clip-percentile {params.clip} --frames {params.frames} "
        "-o {params.outdir} > {log} 2>&1"


rule augment:
    input:
        meta=rules.preprocess.output.meta,
        images=rules.preprocess.output.images,
    output:
        images=results_path("{dataset}/augmented/images.npy"),
        labels=results_path("{dataset}/augmented/labels.npy"),
        distmaps=results_path("{dataset}/augmented/distmaps.npy"),
        slices=results_path("{dataset}/augmented/slices.csv"),
    log:
        results_path("logs/{dataset}/augment.log"),
    benchmark:
        results_path("benchmarks/{dataset}/augment.tsv")
    conda:
        "../../envs/dmr.yaml"
    resources:
        mem_mb=4096,
    params:
        indir=subpath(input.meta, parent=True),
        outdir=subpath(output.slices, parent=True),
        copies=lambda w: dataset_cfg(w)["augment"]["copies"],
        seed=lambda w: dataset_cfg(w)["augment"]["seed"],
        scale=lambda w: " ".join(map(str, dataset_cfg(w)["augment"]["scale"])),
        rotation=lambda w: " ".join(map(str, dataset_cfg(w)["augment"]["rotation"])),
        translation=lambda w: dataset_cfg(w)["augment"]["translation"],
    shell:
        "dmr augment {params.indir} --copies {params.copies} --seed {params.seed} "
        "--scale {params.scale} --rotation {params.rotation} "
        "--translation {params.translation} -o {params.outdir} > {log} 2>&1"


rule folds:
    input:
        cases=rules.preprocess.output.cases,
    output:
        folds=results_path("{dataset}/folds.csv"),
    log:
        results_path("logs/{dataset}/folds.log"),
    conda:
        "../../envs/dmr.yaml"
    params:
        k=lambda w: dataset_cfg(w)["folds"]["k"],
        val=lambda w: dataset_cfg(w)["folds"]["val_fraction"],
        test=lambda w: (
            ""
            if dataset_cfg(w)["folds"]["test_fraction"] is None
            else f"--test-fraction {dataset_cfg(w)['folds']['test_fraction']}"
        ),
        seed=lambda w: dataset_cfg(w)["folds"]["seed"],
        stratify=lambda w: (
            "--leave-one-group-out"
            if dataset_cfg(w)["folds"]["leave_one_group_out"]
            else (
                "--stratify"
                if dataset_cfg(w)["folds"]["stratify"]
                else "--no-stratify"
            )
        ),
    shell:
        "dmr folds {input.cases} --k {params.k} --val-fraction {params.val} {params.test} "
        "--seed {params.seed} "
        "{params.stratify} -o {output.folds} > {log} 2>&1"
