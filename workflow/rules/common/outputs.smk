# The results tables of datasets the paper lacks, every table's inputs and outputs, the
# paper-vs-reproduced inputs and the DAG's final products.


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
