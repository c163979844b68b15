# Config validation, wildcard constraints and the small functions every rule uses.
import json
import re
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from dmr.cli.workflow_config import (
    augmented_copies_problems,
    config_errors,
    missing_dataset_folders,
)
from dmr.settings import training_settings

_SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"


def _stop(problems, what):
    """Stop before any job with one line per problem (Snakemake adds where it stopped)."""
    if problems:
        raise WorkflowError(f"{what}:\n" + "\n".join(f"  {p}" for p in problems))


_stop(
    config_errors(config, _SCHEMA, workflow.configfiles),
    "the config is not valid (keys as in workflow/schemas/config.schema.yaml)",
)
validate(config, schema="../../schemas/config.schema.yaml", set_default=True)
_stop(missing_dataset_folders(config), "a configured dataset folder is missing")
_stop(
    augmented_copies_problems(config),
    "a training asks for augmented copies not written",
)

RESULTS = config["results"].rstrip("/")
RESOURCES = config["resources"].rstrip("/")


def results_path(path):
    """`path` under this config's results folder (config key `results`)."""
    return f"{RESULTS}/{path}"


def resources_path(path):
    """`path` under this config's resources folder (config key `resources`)."""
    return f"{RESOURCES}/{path}"


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


#: Where the data of a format that cannot be downloaded by the DAG come from.
_NO_DOWNLOAD = {
    "lvsc": "The LV Segmentation Challenge 2011 (LVSC) data are given out after a registration "
    "with the Cardiac Atlas Project (https://www.cardiacatlas.org/): request them there, ",
    "mnms": "The M&Ms data are given out after a registration (https://www.ub.edu/mnms/): "
    "request them there, ",
    "nnunet": "An nnU-Net raw dataset is a folder you already hold (or convert with nnU-Net's "
    "dataset conversion scripts): ",
}


def _check_downloads():
    """Only ACDC is public; another format's `source: download` is refused with where to get
    the data."""
    for name, dataset in config["datasets"].items():
        if dataset["source"] == "download" and dataset["format"] != "acdc":
            raise ValueError(
                f"config datasets.{name}: source 'download' is only available for ACDC. "
                + _NO_DOWNLOAD[dataset["format"]]
                + "unpack them and use `source: path` with `path:` pointing at the folder."
            )


_check_downloads()


def _check_readers():
    """Reader options (label maps, case patterns) are checked before any job runs."""
    from dmr.datasets import reader_option_problems

    problems = [
        f"datasets.{name}.reader: {problem}"
        for name, dataset in config["datasets"].items()
        for problem in reader_option_problems(dataset["format"], dataset["reader"])
    ]
    _stop(problems, "a dataset's reader options are not valid")


_check_readers()


def reader_options_of(name):
    """`--reader-options '<json>'` of a dataset whose reader takes options ('' otherwise)."""
    options = config["datasets"][name]["reader"]
    if not options:
        return ""
    return f"--reader-options {shlex.quote(json.dumps(options, sort_keys=True))}"


def reader_flag(wildcards):
    return reader_options_of(wildcards.dataset)


wildcard_constraints:
    dataset="|".join(DATASETS),
    train="|".join(DATASETS),
    test="|".join(DATASETS),
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
    return raw_path_of(wildcards.dataset)


def raw_inputs(wildcards):
    """Phantom and downloaded datasets are outputs of the DAG (generator / download rule); a
    user's copy is a read-only input outside it (`dmr check-data` reports a missing folder with
    where to obtain the data)."""
    return raw_inputs_of(wildcards.dataset)


def raw_path_of(name):
    if is_phantom(name):
        return f"{RESOURCES}/{name}"
    if is_downloaded(name):
        return f"{RESOURCES}/downloaded/{name}"
    return config["datasets"][name]["path"]


def raw_inputs_of(name):
    if is_phantom(name) or is_downloaded(name):
        return raw_path_of(name)
    return []


def n_folds(dataset):
    return config["datasets"][dataset]["folds"]["k"]


def model_arch(model):
    """`segnet` of `segnet-dmr`: the architecture part of a model name."""
    return model.partition("-")[0]


def model_variant(model):
    """`dmr` of `segnet-dmr`: the variant part of a model name (a key of `variants`)."""
    return model.partition("-")[2]


def paper_networks():
    """The configured models among the paper's six networks (base and DMR, no ablations)."""
    return [m for m in MODELS if model_variant(m) in ("base", "dmr")]


def variant_cfg(model):
    return config["variants"][model_variant(model)]


def train_cfg(wildcards):
    """Training settings of one (dataset, model): global defaults < variant < dataset overrides <
    the dataset's overrides for the model's architecture (`by_arch`), by dmr.settings."""
    merged = training_settings(
        config,
        wildcards.dataset,
        arch=model_arch(wildcards.model),
        variant=variant_cfg(wildcards.model),
    )
    # Paper II.F: 1e-4 for single-task (CE) networks, 5e-4 for multi-task (DMR) networks.
    merged.setdefault("lr", 1e-4 if merged["loss"] == "ce" else 5e-4)
    return merged


def config_file_names():
    """The config files of this run in the order they apply (config/config.yaml only when no
    --configfile is given; several --configfile are laid over each other), relative to the
    workflow when inside it, for the report's header."""
    base = Path(workflow.basedir).resolve()
    default = base / "config" / "config.yaml"
    files = list(dict.fromkeys(Path(f).resolve() for f in workflow.configfiles))
    ordered = [f for f in files if f == default] + [f for f in files if f != default]
    return [
        str(f.relative_to(base)) if f.is_relative_to(base) else str(f) for f in ordered
    ]


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
        f"{RESULTS}/{dataset}/models/{model}/fold{k}" for k in range(n_folds(dataset))
    ]
