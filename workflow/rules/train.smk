# Training stage: one job per dataset x model x fold. Resume checkpoints live outside the declared
# outputs (results/{dataset}/ckpt/...), so an interrupted job restarts from its last epoch.


rule train:
    input:
        meta=rules.preprocess.output.meta,
        images=rules.preprocess.output.images,
        aug=rules.augment.output.slices,
        folds=rules.folds.output.folds,
    output:
        model=results_path("{dataset}/models/{model}/fold{fold}/model.pt"),
        checkpoint=results_path("{dataset}/models/{model}/fold{fold}/checkpoint.pt"),
        history=results_path("{dataset}/models/{model}/fold{fold}/history.csv"),
    log:
        results_path("logs/{dataset}/train/{model}_fold{fold}.log"),
    benchmark:
        results_path("benchmarks/{dataset}/train/{model}_fold{fold}.tsv")
    conda:
        "../../envs/dmr.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=gpu_request(),
        gpu_slot=1 if wants_cuda() else 0,
        mem_mb=4096,
    params:
        pre=subpath(input.meta, parent=True),
        aug=subpath(input.aug, parent=True),
        outdir=subpath(output.model, parent=True),
        ckpt=results_path("{dataset}/ckpt/{model}/fold{fold}"),
        arch=lambda w: model_arch(w.model),
        loss=lambda w: train_cfg(w)["loss"],
        weighting=lambda w: train_cfg(w)["weighting"],
        threshold=lambda w: train_cfg(w)["threshold"],
        width=lambda w: train_cfg(w)["width"],
        epochs=lambda w: train_cfg(w)["epochs"],
        batch=lambda w: train_cfg(w)["batch_size"],
        lr=lambda w: train_cfg(w)["lr"],
        decay=lambda w: train_cfg(w)["lr_decay"],
        sigma_lr=lambda w: train_cfg(w)["sigma_lr_scale"],
        copies=lambda w: (
            f"--augmented-copies {train_cfg(w)['augmented_copies']}"
            if train_cfg(w).get("augmented_copies") is not None
            else ""
        ),
        step_cap=lambda w: (
            f"--max-steps-per-epoch {train_cfg(w)['max_steps_per_epoch']}"
            if train_cfg(w).get("max_steps_per_epoch")
            else ""
        ),
        bn_slices=lambda w: train_cfg(w)["bn_stats_slices"],
        seed=lambda w: train_cfg(w)["seed"],
        device=lambda w: train_cfg(w)["device"],
        amp=lambda w: switch(train_cfg(w)["amp"]),
        data=switch(config["training"]["data_on_device"]),
        data_fraction=data_memory_fraction(),
        recompute=lambda w: (
            "--checkpoint-activations"
            if train_cfg(w)["checkpoint_activations"]
            else "--no-checkpoint-activations"
        ),
        reuse=lambda w: (
            "--reuse-freed-memory"
            if train_cfg(w)["reuse_freed_memory"]
            else "--no-reuse-freed-memory"
        ),
    shell:
        "dmr train --preprocessed {params.pre} --augmented {params.aug} {params.copies} "
        "--folds {input.folds} --fold {wildcards.fold} --arch {params.arch} "
        "--model-name {wildcards.model} --loss {params.loss} --weighting {params.weighting} "
        "--threshold {params.threshold} --width {params.width} --epochs {params.epochs} "
        "--batch-size {params.batch} --lr {params.lr} --lr-decay {params.decay} "
        "--sigma-lr-scale {params.sigma_lr} {params.step_cap} "
        "--bn-stats-slices {params.bn_slices} "
        "--seed {params.seed} --device {params.device} --threads {threads} --amp {params.amp} "
        "--data-on-device {params.data} --data-memory-fraction {params.data_fraction} "
        "{params.recompute} {params.reuse} "
        "--ckpt-dir {params.ckpt} -o {params.outdir} > {log} 2>&1"
