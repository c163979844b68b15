# Config validation, wildcard constraints and the small functions every rule uses.
import json
import re
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from dmr.cli.workflow_config import config_errors, missing_dataset_folders

_SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"


def _stop(problems, what):
    """Stop before any job with one line per problem (Snakemake adds where it stopped)."""
    if problems:
        raise WorkflowError(f"{what}:\n" + "\n".join(f"  {p}" for p in problems))


_stop(
    config_errors(config, _SCHEMA, workflow.configfiles),
    "the config is not valid (keys as in workflow/schemas/config.schema.yaml)",
)
validate(config, schema="../schemas/config.schema.yaml", set_default=True)
_stop(missing_dataset_folders(config), "a configured dataset folder is missing")

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
    the dataset's overrides for the model's architecture (`by_arch`)."""
    merged = dict(config["training"])
    merged.update(variant_cfg(wildcards.model))
    overrides = dict(dataset_cfg(wildcards).get("training", {}))
    by_arch = overrides.pop("by_arch", {})
    merged.update(overrides)
    merged.update(by_arch.get(model_arch(wildcards.model), {}))
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


# ---------------------------------------------------------------------------- paper tables
# Which config dataset plays the ACDC / LVSC role, which tables are configured, and their inputs.
# The model whose fold ensemble is scored on the held-out splits (Tables III, V).
HELDOUT_MODEL = "unet-dmr"


def table_role(role):
    """The config dataset playing the paper's `acdc` or `lvsc` role ('' skips its tables and
    figures); it must exist and be of that format."""
    name = config["tables"][role]
    if name and (name not in DATASETS or config["datasets"][name]["format"] != role):
        raise ValueError(
            f"config tables.{role}: {name!r} is not a dataset of format {role!r} among "
            f"{DATASETS} (set it to '' to skip the tables and figures of that role)"
        )
    return name


role_dataset = table_role


# --------------------------------------------------------------------------- held-out test sets
HELDOUT_DEFAULTS = {
    "acdc": {"split": "testing", "frames": "ed_es"},
    "lvsc": {"split": "validation", "frames": "labelled"},
    "nnunet": {"split": "testing", "frames": "ed_es"},
    "mnms": {"split": "testing", "frames": "ed_es"},
}


def heldout_cfg(name):
    """The dataset's `heldout` settings with the format's defaults filled in."""
    cfg = dict(config["datasets"][name]["heldout"])
    fmt = config["datasets"][name]["format"]
    for key, value in HELDOUT_DEFAULTS[fmt].items():
        if cfg.get(key) is None:
            cfg[key] = value
    if cfg.get("references") is None and fmt == "lvsc":
        cfg["references"] = f"{raw_path_of(name)}/consensus"
    return cfg


def heldout_flags(wildcards):
    cfg = heldout_cfg(wildcards.dataset)
    flags = f"--split {cfg['split']} --frames {cfg['frames']}"
    if cfg["references"] is not None:
        flags += f" --references {cfg['references']}"
    return flags


def heldout_datasets():
    return [d for d in DATASETS if config["datasets"][d]["heldout"]["enabled"]]


def heldout_models(name):
    models = heldout_cfg(name)["models"]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(
            f"config datasets.{name}.heldout.models: {unknown} are not in models {MODELS}"
        )
    return models


def heldout_outputs():
    return [
        f"{RESULTS}/{d}/heldout/metrics/{m}.csv"
        for d in heldout_datasets()
        for m in heldout_models(d)
    ]


# --------------------------------------------------------------------------- cross-dataset
def structures_of(name):
    """The structures a dataset annotates (its format's, or an nnU-Net label map's)."""
    from dmr.datasets import dataset_structures

    dataset = config["datasets"][name]
    return dataset_structures(dataset["format"], dataset["reader"])


def shared_structures(train, test):
    """Structures annotated by both datasets, in the test dataset's order."""
    train_structures = structures_of(train)
    return [s for s in structures_of(test) if s in train_structures]


def cross_pairs():
    """The ordered pairs of `cross.pairs`, or every pair of distinct datasets that share a
    structure; a listed pair that shares none, or names an unknown dataset, is refused.
    """
    if not config["cross"]["enabled"]:
        return []
    listed = config["cross"]["pairs"]
    if listed is None:
        return [
            (a, b)
            for a in DATASETS
            for b in DATASETS
            if a != b and shared_structures(a, b)
        ]
    problems = []
    for a, b in listed:
        if a not in DATASETS or b not in DATASETS or a == b:
            problems.append(
                f"cross.pairs: [{a}, {b}] is not two distinct datasets of {DATASETS}"
            )
        elif not shared_structures(a, b):
            problems.append(f"cross.pairs: {a} and {b} annotate no common structure")
    _stop(problems, "the config is not valid")
    return [(a, b) for a, b in listed]


def cross_models():
    models = config["cross"]["models"]
    if models is None:
        return paper_networks()
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"config cross.models: {unknown} are not in models {MODELS}")
    return models


def cross_outputs():
    return [
        f"{RESULTS}/cross/{a}_to_{b}/metrics/{m}.csv"
        for a, b in cross_pairs()
        for m in cross_models()
    ]


def has_heldout(role):
    name = table_role(role)
    return (
        bool(name)
        and config["datasets"][name]["heldout"]["enabled"]
        and HELDOUT_MODEL in heldout_models(name)
    )


def cross_enabled():
    both = bool(table_role("acdc")) and bool(table_role("lvsc"))
    return both and config["cross"]["enabled"]


def paper_tables():
    """Names of the paper tables the config asks for (each: results/tables/<name>.*)."""
    names = ["table1"]
    if table_role("acdc"):
        names += ["table2a", "table2b"] + (["table3"] if has_heldout("acdc") else [])
    if table_role("lvsc"):
        names += ["table4"] + (["table5"] if has_heldout("lvsc") else [])
    if cross_enabled():
        names += ["table6a", "table6b"]
    return names


# ------------------------------------------------------------------ datasets the paper lacks
def group_label(name):
    """What a dataset's groups are (M&Ms: `vendor` unless its reader says otherwise)."""
    dataset = config["datasets"][name]
    if dataset["format"] == "mnms":
        return dataset["reader"].get("group", "vendor")
    return "group"


def generic_tables():
    """The results tables of what the paper does not have, by name: every dataset outside the
    ACDC/LVSC roles (`results_<dataset>`), every leave-one-group-out dataset (`lovo_<dataset>`,
    a block per held-out group) and every cross-dataset pair other than the Table VI pair
    (`cross_<a>_to_<b>`). Each: kind, metric CSVs (the base and DMR networks), group label,
    and each fold network's own metrics (cross-dataset pairs)."""
    networks = paper_networks()
    if not networks:
        return {}
    roles = {table_role("acdc"), table_role("lvsc")} - {""}
    tables = {}
    for d in DATASETS:
        metrics = [f"{RESULTS}/{d}/metrics/{m}.csv" for m in networks]
        if d not in roles:
            tables[f"results_{d}"] = ("dataset", metrics, group_label(d), [])
        if config["datasets"][d]["folds"]["leave_one_group_out"]:
            tables[f"lovo_{d}"] = ("groups", metrics, group_label(d), [])
    paper_pairs = set()
    if cross_enabled():
        acdc, lvsc = table_role("acdc"), table_role("lvsc")
        paper_pairs = {(acdc, lvsc), (lvsc, acdc)}
    models = [m for m in cross_models() if m in networks]
    for a, b in cross_pairs():
        if (a, b) not in paper_pairs and models:
            tables[f"cross_{a}_to_{b}"] = (
                "cross",
                [f"{RESULTS}/cross/{a}_to_{b}/metrics/{m}.csv" for m in models],
                "group",
                [f"{RESULTS}/cross/{a}_to_{b}/metrics/folds/{m}.csv" for m in models],
            )
    return tables


def table_outputs(name):
    """A table's four renderings (the .html fragment is what the report embeds) and its cells
    CSV (results/stats/<name>.csv)."""
    return [
        f"{RESULTS}/tables/{name}.{ext}" for ext in ("csv", "md", "tex", "html")
    ] + [f"{RESULTS}/stats/{name}.csv"]


def role_metrics(role, kind=""):
    """In-domain metric CSVs of every model on a role's dataset (kind: '' or 'clinical')."""
    folder = f"metrics/{kind}" if kind else "metrics"
    return [f"{RESULTS}/{table_role(role)}/{folder}/{m}.csv" for m in MODELS]


def heldout_input(role, what):
    """A held-out file of the ensemble: `metrics`, `clinical`, `slices` or `status`."""
    root = f"{RESULTS}/{table_role(role)}/heldout"
    if what == "status":
        return f"{root}/metrics/{HELDOUT_MODEL}.status.json"
    folder = "metrics" if what == "metrics" else f"metrics/{what}"
    return f"{root}/{folder}/{HELDOUT_MODEL}.csv"


def cross_metrics(train, test, kind=""):
    """Cross-dataset metric CSVs (Table VI) of the paper's six networks that are configured
    (kind 'folds/': each fold network's own metrics)."""
    direction = f"{table_role(train)}_to_{table_role(test)}"
    return [
        f"{RESULTS}/cross/{direction}/metrics/{kind}{m}.csv" for m in paper_networks()
    ]


def bootstrap_args():
    return (
        f"--n-resamples {config['stats']['bootstrap_resamples']} "
        f"--seed {config['stats']['seed']}"
    )


def cells_report(table):
    """results/stats/<table>.csv, the table's cells, as a `snakemake --report` entry.

    The category must not be called "Statistics": Snakemake's report has a "Statistics" panel of
    its own, and the two link targets clash (docutils duplicate-target warnings, a link that goes
    to either).
    """
    return report(
        f"{RESULTS}/stats/{table}.csv",
        caption="../report/cells.rst",
        category="Intervals and tests",
    )


# --------------------------------------------------------------------------- paper vs reproduced
def stats_cells():
    """The long cells tables (results/stats/<table>.csv) of every table this config builds, and
    of the numbers the paper quotes in its text."""
    return [f"{RESULTS}/stats/{name}.csv" for name in paper_tables()] + [
        results_path("stats/text.csv")
    ]


def text_inputs():
    """DMR-U-Net's in-domain metrics and histories, and U-Net / DMR-U-Net trained on the LVSC role
    and tested on the ACDC role: what the text's numbers (abstract, Section IV) come from.
    """
    roles = [d for d in (table_role("acdc"), table_role("lvsc")) if d]
    dmr = "unet-dmr" if "unet-dmr" in MODELS else None
    cross = []
    if cross_enabled():
        direction = f"{table_role('lvsc')}_to_{table_role('acdc')}"
        cross = [
            f"{RESULTS}/cross/{direction}/metrics/{m}.csv"
            for m in ("unet-base", "unet-dmr")
            if m in cross_models()
        ]
    return {
        "metrics": [f"{RESULTS}/{d}/metrics/{dmr}.csv" for d in roles] if dmr else [],
        "cross": cross,
        "histories": (
            [f"{path}/history.csv" for d in roles for path in model_dirs(d, dmr)]
            if dmr
            else []
        ),
    }


def comparison_figures(wildcards):
    """The Fig. 6 / Fig. 7 data CSVs, when this config draws them."""
    wanted = set(figure_outputs())
    return {
        name: f"{RESULTS}/figures/{name}.csv"
        for name in ("fig6", "fig7")
        if f"{RESULTS}/figures/{name}.csv" in wanted
    }


def figure_options(wildcards, input):
    """`--fig6 PATH --fig7 PATH` for the figure data this config has."""
    return " ".join(
        f"--{name} {input[name]}" for name in ("fig6", "fig7") if name in input.keys()
    )


def final_outputs():
    """Every final product of the DAG, built from config (datasets x models x folds)."""
    outputs = []
    for d in DATASETS:
        outputs.append(f"{RESULTS}/{d}/data_check.json")
        outputs.append(figure_name(d))
        outputs += [f"{RESULTS}/{d}/metrics/{m}.csv" for m in MODELS]
    outputs += heldout_outputs()
    outputs += cross_outputs()
    for name in [*paper_tables(), *generic_tables()]:
        outputs += table_outputs(name)
    outputs += [
        f"{RESULTS}/tables/paper_vs_reproduced.{ext}" for ext in ("csv", "md", "json")
    ]
    outputs += figure_outputs()
    outputs.append(results_path("report.html"))
    if config["plan"]["target"]:
        outputs.append(results_path("plan.md"))
    return outputs


def plan_target():
    """The config whose grid `plan.md` projects: as given, or relative to the workflow."""
    target = Path(config["plan"]["target"])
    if not target.is_absolute() and not target.exists():
        target = Path(workflow.basedir) / target
    return str(target)


def figure_name(dataset):
    kind = "phantoms" if is_phantom(dataset) else "data"
    return f"{RESULTS}/figures/{kind}_{dataset}.png"


# --------------------------------------------------------------------------- paper figures
#: The six networks of the paper (Figs. 4, 5, S1), in its order.
PAPER_MODELS = (
    "segnet-base",
    "segnet-dmr",
    "usegnet-base",
    "usegnet-dmr",
    "unet-base",
    "unet-dmr",
)
#: DMR-U-Net and its ablations: task weighting (Fig. 6) and distance-map threshold (Fig. 7).
WEIGHTING_MODELS = ("unet-dmr", "unet-dmr_fixed")
THRESHOLD_MODELS = ("unet-dmr_t5", "unet-dmr_t60", "unet-dmr")
#: Figures that write the CSV of the numbers they plot.
DATA_FIGURES = ("fig4a", "fig4b", "fig5", "fig6", "fig7", "figS4", "figS5")


def role_datasets():
    """The datasets in the ACDC and LVSC roles, in that order (absent roles left out)."""
    return [d for d in (role_dataset("acdc"), role_dataset("lvsc")) if d]


def present(models):
    return [m for m in models if m in MODELS]


def case_model():
    """The model whose median-Dice ED test volume Figs. 1, S1-S3 show (DMR-U-Net if run)."""
    paper = present(PAPER_MODELS)
    return "unet-dmr" if "unet-dmr" in MODELS else (paper[-1] if paper else "")


def distance_map_model():
    """The DMR network of Fig. S2: DMR-U-Net, else the last DMR model of the paper run."""
    dmr = [m for m in present(PAPER_MODELS) if m.endswith("-dmr")]
    return dmr[-1] if dmr else ""


def weight_pair_models():
    """Base and DMR model of each architecture run in both versions (Fig. S5)."""
    return [
        m
        for arch in ARCHS
        if {f"{arch}-base", f"{arch}-dmr"} <= set(MODELS)
        for m in (f"{arch}-base", f"{arch}-dmr")
    ]


def figure_names():
    """The paper figures this config can draw: each needs its dataset role and models."""
    acdc, lvsc = role_dataset("acdc"), role_dataset("lvsc")
    paper = present(PAPER_MODELS)
    wanted = {
        "fig1": acdc and "unet-dmr" in MODELS,
        "fig4a": acdc and paper,
        "fig4b": lvsc and paper,
        "fig5": acdc and paper,
        "fig6": role_datasets() and "unet-dmr_fixed" in MODELS,
        "fig7": role_datasets() and present(THRESHOLD_MODELS[:2]),
        "figS1": acdc and paper,
        "figS2": acdc and distance_map_model(),
        "figS3": acdc and {"unet-base", "unet-dmr"} <= set(MODELS),
        "figS4": bool(MODELS),
        "figS5": role_datasets() and weight_pair_models(),
    }
    return [name for name, ok in wanted.items() if ok]


#: Figs. 4 and 5 for a dataset outside the paper's roles: figures/<kind>_<dataset>.*
OWN_FIGURE_KINDS = ("regions", "groups")


def own_figure_datasets():
    """The datasets outside the ACDC/LVSC roles that get the per-region and per-group figures
    (`regions_<dataset>`, `groups_<dataset>`): those with base/DMR networks configured, as for
    their results table."""
    if not paper_networks():
        return []
    roles = {table_role("acdc"), table_role("lvsc")} - {""}
    return [d for d in DATASETS if d not in roles]


def own_figure_pattern():
    """The `dataset` wildcard of rules figure_regions/figure_groups: only those datasets (a
    pattern that matches nothing when there are none)."""
    names = own_figure_datasets()
    return "|".join(re.escape(d) for d in names) if names else "(?!)"


def own_figure_outputs():
    """PNG, PDF and CSV of the per-region and per-group figure of every such dataset."""
    return [
        f"{RESULTS}/figures/{kind}_{d}.{ext}"
        for d in own_figure_datasets()
        for kind in OWN_FIGURE_KINDS
        for ext in ("png", "pdf", "csv")
    ]


def figure_outputs():
    """PNG + PDF of every figure of figure_names(), + the CSV of the data figures, then the
    per-region and per-group figures of the datasets the paper lacks."""
    outputs = []
    for name in figure_names():
        exts = ("png", "pdf", "csv") if name in DATA_FIGURES else ("png", "pdf")
        outputs += [f"{RESULTS}/figures/{name}.{ext}" for ext in exts]
    return outputs + own_figure_outputs()


def dataset_labels():
    return " ".join(
        f"--dataset-label {role_dataset(role)}={role.upper()}"
        for role in ("acdc", "lvsc")
        if role_dataset(role)
    )


def metric_files(datasets, models, kind=""):
    return [f"{RESULTS}/{d}/metrics/{kind}{m}.csv" for d in datasets for m in models]


def fold_files(datasets, models, name):
    return [
        f"{folder}/{name}"
        for d in datasets
        for m in models
        for folder in model_dirs(d, m)
    ]


def level_options(models, key):
    return " ".join(f"--model {m}={variant_cfg(m)[key]}" for m in models)


def absent_options(models):
    missing = [m for m in models if m not in MODELS]
    return f"--absent {' '.join(missing)}" if missing else ""


# --------------------------------------------------------------------------- report
def report_tables():
    """The HTML fragment of every table this config builds (results/report.html embeds them)."""
    return [
        f"{RESULTS}/tables/{name}.html" for name in [*paper_tables(), *generic_tables()]
    ]


def report_figures():
    """Every figure PNG of the run: the paper figures, the per-region and per-group figures of
    the datasets the paper lacks, then each dataset's overview."""
    pngs = [path for path in figure_outputs() if path.endswith(".png")]
    return pngs + [figure_name(d) for d in DATASETS]
