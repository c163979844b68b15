# dmr-cardiac: the whole paper as one DAG. This file is the table of contents; the logic lives in the
# `dmr` package and each rule is a thin call of the `dmr` command line.
from snakemake.utils import min_version

min_version("9.0")


# The embedded default applies only when no --configfile is given: a config file given on the
# command line is complete on its own (the schema's defaults fill what it leaves out), so that
# config/paper.yaml or a user's config never inherits the miniature's settings.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common/config.smk"
include: "workflow/rules/common/roles.smk"
include: "workflow/rules/common/outputs.smk"
include: "workflow/rules/common/figure_inputs.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/heldout.smk"
include: "workflow/rules/cross.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
