"""The package mirrors the DAG: the import-linter layers contract of pyproject.toml holds, and it
is live (an upward import or an unplaced top-level module breaks it), so CI catches a later change
that imports a later stage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

#: What src/dmr/ may hold at its top level: the stages in the order of the DAG, then the shared
#: modules (docs/architecture.md).
STAGES = [
    "datasets",
    "preprocess",
    "models",
    "train",
    "inference",
    "evaluation",
    "published",
    "tables",
    "figures",
    "report",
    "cli",
]
SHARED = ["errors", "io", "labels", "geometry", "settings", "switch"]


def lint_imports(package_parent: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's contract on the ``dmr`` package found in ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--cache-dir", str(cache), str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=package_parent,
    )


def test_top_level_holds_only_stages_and_shared_modules() -> None:
    names = {
        p.stem
        for p in (ROOT / "src" / "dmr").iterdir()
        if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").exists())
    }
    assert names == set(STAGES) | set(SHARED)


def test_layers_contract_is_kept(tmp_path: Path) -> None:
    run = lint_imports(ROOT / "src", tmp_path / "cache")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


@pytest.mark.parametrize(
    ("change", "broken_by"),
    [
        # preprocessing reaching into training: an import against the DAG's order
        (
            ("preprocess/folds.py", "import dmr.train.history\n"),
            "dmr.preprocess.folds -> dmr.train",
        ),
        # a shared module importing a stage
        (("labels.py", "from dmr.models import build_model\n"), "dmr.labels -> dmr.models"),
        # the two independent stages at the bottom
        (("models/config.py", "import dmr.datasets.case\n"), "dmr.models.config -> dmr.datasets"),
        # a new top-level module that belongs to no stage
        (("helpers.py", '"""Unplaced."""\n'), "dmr.helpers"),
    ],
)
def test_contract_breaks_on_a_violation(
    change: tuple[str, str], broken_by: str, tmp_path: Path
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "dmr", copy / "dmr", ignore=shutil.ignore_patterns("__pycache__")
    )
    module, line = change
    with (copy / "dmr" / module).open("a") as file:
        file.write(line)
    run = lint_imports(copy, tmp_path / "cache")
    assert run.returncode != 0
    assert "0 kept, 1 broken" in run.stdout
    assert broken_by in run.stdout


def test_stage_packages_export_lazily() -> None:
    """dmr.datasets and dmr.preprocess import their re-exports on first use: every name of their
    ``__all__`` resolves, yet the light modules (``frames`` for the CLI's parser, ``folds`` and
    ``regions`` for scoring) load neither SimpleITK nor the readers."""
    code = (
        "import sys, importlib\n"
        "import dmr.cli, dmr.datasets.frames, dmr.preprocess.folds, dmr.preprocess.regions\n"
        "assert 'SimpleITK' not in sys.modules, 'a light module loaded SimpleITK'\n"
        "for name in ('dmr.datasets', 'dmr.preprocess'):\n"
        "    package = importlib.import_module(name)\n"
        "    for export in package.__all__:\n"
        "        assert getattr(package, export) is not None, (name, export)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
