# Which paper figures and per-dataset figures this config draws, their inputs, and what the
# report embeds.

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
