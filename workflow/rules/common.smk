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


def _check_downloads():
    """Only ACDC is public; LVSC's `source: download` is refused with where to ask for the data."""
    for name, dataset in config["datasets"].items():
        if dataset["source"] == "download" and dataset["format"] != "acdc":
            raise ValueError(
                f"config datasets.{name}: source 'download' is only available for ACDC. The "
                "LV Segmentation Challenge 2011 (LVSC) data are given out after a registration "
                "with the Cardiac Atlas Project (https://www.cardiacatlas.org/): request them "
                "there, unpack them and use `source: path` with `path:` pointing at the folder."
            )


_check_downloads()


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


def is_downloaded(name):
    return config["datasets"][name]["source"] == "download"


def raw_path(wildcards):
    """Where the raw data of a dataset live: generated phantoms, the DAG's own download, or the
    user's copy."""
    if is_phantom(wildcards.dataset):
        return f"resources/{wildcards.dataset}"
    if is_downloaded(wildcards.dataset):
        return f"resources/downloaded/{wildcards.dataset}"
    return config["datasets"][wildcards.dataset]["path"]


def raw_inputs(wildcards):
    """Phantom and downloaded datasets are outputs of the DAG (generator / download rule); a
    user's copy is a read-only input outside it (`dmr check-data` reports a missing folder with
    where to obtain the data)."""
    if is_phantom(wildcards.dataset):
        return rules.phantoms.output.root
    if is_downloaded(wildcards.dataset):
        return rules.download.output.root
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
