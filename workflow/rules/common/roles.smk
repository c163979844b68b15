# Which config dataset plays the paper's ACDC / LVSC role, and what follows from it: the
# paper tables this config builds, the held-out splits and the cross-dataset pairs.

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
