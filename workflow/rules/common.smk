# Config validation, wildcard constraints and the small functions every rule uses.
import json
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml", set_default=True)

DATASETS = list(config["datasets"])
MODELS = list(config["models"])
ARCHS = ("segnet", "usegnet", "unet")


def _check_models():
    """Every model is `{arch}-{variant}` with a known arch and a variant defined in config."""
    for model in MODELS:
        arch, _, variant = model.partition("-")
        if arch not in ARCHS or variant not in config["variants"]:
            raise ValueError(
                f"config models: {model!r} is not '<arch>-<variant>' with arch in {ARCHS} "
                f"and variant in {sorted(config['variants'])}"
            )


_check_models()


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),
    fold=r"\d+",


def dataset_cfg(wildcards):
    return config["datasets"][wildcards.dataset]


def dataset_format(wildcards):
    return dataset_cfg(wildcards)["format"]


def is_phantom(name):
    return config["datasets"][name]["source"] == "phantom"


def raw_path(wildcards):
    """Where the raw data of a dataset live: generated phantoms or the user's download."""
    if is_phantom(wildcards.dataset):
        return f"resources/{wildcards.dataset}"
    return config["datasets"][wildcards.dataset]["path"]


def raw_inputs(wildcards):
    """Phantom datasets depend on their generator rule; real data are read-only inputs outside the DAG
    (`dmr check-data` reports a missing download with where to obtain it)."""
    if is_phantom(wildcards.dataset):
        return rules.phantoms.output.root
    return []


def n_folds(dataset):
    return config["datasets"][dataset]["folds"]["k"]


def variant_cfg(model):
    return config["variants"][model.partition("-")[2]]


def train_cfg(wildcards):
    """Training settings of one (dataset, model): global defaults < variant < dataset overrides."""
    merged = dict(config["training"])
    merged.update(variant_cfg(wildcards.model))
    merged.update(dataset_cfg(wildcards).get("training", {}))
    # Paper II.F: 1e-4 for single-task (CE) networks, 5e-4 for multi-task (DMR) networks.
    merged.setdefault("lr", 1e-4 if merged["loss"] == "ce" else 5e-4)
    return merged


def wants_cuda():
    return str(config["training"]["device"]).startswith("cuda")


def switch(value):
    """A config switch (`auto` or a YAML boolean) as the `dmr` options spell it."""
    return value if value == "auto" else ("true" if value else "false")


def gpu_request():
    """Whole GPUs per training/inference job: 1 when jobs do not share GPUs (executors such as
    SLURM turn it into --gpus=1), 0 when `training.gpu_slots` > 1 jobs share one."""
    return 1 if wants_cuda() and config["training"]["gpu_slots"] == 1 else 0


def data_memory_fraction():
    """Each of the jobs that share a GPU may fill its share of the memory budget."""
    fraction = config["training"]["data_memory_fraction"]
    return fraction / config["training"]["gpu_slots"] if wants_cuda() else fraction


def limit_gpu_jobs():
    """Local runs on CUDA: at most `training.gpu_slots` jobs on the GPU at a time (the
    `gpu_slot` resource), unless `--resources gpu_slot=N` says otherwise."""
    resources = workflow.global_resources
    if wants_cuda() and workflow.local_exec and "gpu_slot" not in resources:
        workflow.register_resource("gpu_slot", config["training"]["gpu_slots"])


limit_gpu_jobs()


def model_dirs(dataset, model):
    return [
        f"results/{dataset}/models/{model}/fold{k}" for k in range(n_folds(dataset))
    ]


def table2_dataset():
    name = config["tables"]["table2_dataset"]
    if name not in DATASETS:
        raise ValueError(
            f"config tables.table2_dataset: {name!r} is not one of {DATASETS}"
        )
    return name


def final_outputs():
    """Every final product of the DAG, built from config (datasets x models x folds)."""
    outputs = []
    for d in DATASETS:
        outputs.append(f"results/{d}/data_check.json")
        outputs.append(figure_name(d))
        outputs += [f"results/{d}/metrics/{m}.csv" for m in MODELS]
    outputs += expand("results/tables/table1.{ext}", ext=("csv", "md", "tex"))
    if config["tables"].get("table2_dataset"):
        outputs += expand("results/tables/table2a.{ext}", ext=("csv", "md", "tex"))
    return outputs


def figure_name(dataset):
    kind = "phantoms" if is_phantom(dataset) else "data"
    return f"results/figures/{kind}_{dataset}.png"
