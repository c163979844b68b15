"""Jobs that only read tables must not pay for PyTorch: each Snakemake job is a new process, and
``import torch`` is 1-2 s of its start (dmr.train loads its submodules on first use)."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Modules of the table, figure, statistics and report jobs (those that never run a network).
TORCH_FREE = (
    "dmr.cli",
    "dmr.tables.comparison",
    "dmr.tables.generic",
    "dmr.tables.text",
    "dmr.figures.training",
    "dmr.figures.dice",
    "dmr.report.page",
    "dmr.report.provenance",
    "dmr.evaluation.evaluate_split",
    "dmr.train.history",
)


def test_reading_modules_do_not_import_torch() -> None:
    # One process imports them in turn and names the first that brought torch in.
    code = (
        "import importlib, sys\n"
        f"for name in {TORCH_FREE!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'torch' in sys.modules:\n"
        "        print(name)\n"
        "        break\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{out.stdout.strip()} imports torch"


def test_the_training_package_still_exports_its_names() -> None:
    import dmr.train

    for name in dmr.train.__all__:
        assert getattr(dmr.train, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        dmr.train.nothing  # noqa: B018
