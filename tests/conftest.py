"""Shared fixtures: tiny phantom datasets in the real ACDC and LVSC on-disk layouts, and one local
run of config/test.yaml for the tests that check or compare the workflow's products
(tests/test_workflow.py, tests/test_report.py, tests/test_slurm.py).

Each dataset is generated once per test session (a fraction of a second) and must be treated as
read-only; a test that changes files uses the ``acdc_copy`` / ``lvsc_copy`` fixtures (a fresh copy
in the test's own ``tmp_path``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dmr.datasets.phantom import generate_dataset

ROOT = Path(__file__).resolve().parents[1]

#: Scanner domain of the test phantoms: a coarse grid (~150 mm field of view, 3-4 slices,
#: 4-5 frames) that still holds a whole heart, so labels, ED/ES and geometry are meaningful.
TINY_DOMAIN: dict[str, list[float]] = {
    "spacing_mm": [3.6, 4.0],
    "matrix_x": [40, 40],
    "matrix_y": [40, 40],
    "n_slices": [3, 4],
    "n_frames": [4, 5],
}


@pytest.fixture
def tiny_domain() -> dict[str, list[float]]:
    """The phantom domain of the fixtures, for tests that generate a variant of them."""
    return dict(TINY_DOMAIN)


@pytest.fixture(scope="session")
def acdc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ACDC layout: ``training/patient001..002`` (labelled) and ``testing/patient003`` (no gt)."""
    root = tmp_path_factory.mktemp("acdc_phantom") / "acdc"
    generate_dataset("acdc", root, n_cases=2, n_testing=1, seed=0, domain=TINY_DOMAIN)
    return root


@pytest.fixture(scope="session")
def lvsc_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LVSC layout: ``DET0000101..102`` (masks for all frames), ``validation/DET0000103`` (none)."""
    root = tmp_path_factory.mktemp("lvsc_phantom") / "lvsc"
    generate_dataset("lvsc", root, n_cases=2, n_testing=1, seed=0, domain=TINY_DOMAIN)
    return root


@pytest.fixture
def acdc_copy(acdc_root: Path, tmp_path: Path) -> Path:
    """A private, modifiable copy of ``acdc_root``."""
    return Path(shutil.copytree(acdc_root, tmp_path / "acdc"))


@pytest.fixture
def lvsc_copy(lvsc_root: Path, tmp_path: Path) -> Path:
    """A private, modifiable copy of ``lvsc_root``."""
    return Path(shutil.copytree(lvsc_root, tmp_path / "lvsc"))


#: Modules that start first when pytest-xdist shares them out (``--dist loadscope``: whole modules,
#: two queued per worker): one worker builds the local run of config/test.yaml (test_workflow)
#: while the other runs the SLURM cluster run, which mostly waits on the scheduler and needs the
#: local run only for its last comparisons; the own-data run follows on the first worker. The
#: report's browser tests go last.
_FIRST = ("test_workflow.py", "test_slurm.py", "test_own_data_workflow.py")
_LAST = ("test_report.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order modules so that two workers overlap the long runs instead of ending on them."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        if name in _FIRST:
            return _FIRST.index(name)
        return len(_FIRST) + (name in _LAST)

    items.sort(key=rank)


def _built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder that ``build`` fills once per test session, even when pytest-xdist runs the tests
    in several worker processes (each has its own session fixtures): the first worker that needs
    it builds it under a file lock in the workers' common temporary folder, the others wait and
    read it, or fail with the first worker's message if the build failed."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        workdir = tmp_path_factory.mktemp(name)
        build(workdir)
        return workdir
    shared = tmp_path_factory.getbasetemp().parent
    workdir, failure = shared / name, shared / f"{name}.failed"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if failure.exists():
            pytest.fail(f"(built by another worker) {failure.read_text()}")
        if not (workdir / ".built").exists():
            workdir.mkdir(exist_ok=True)
            try:
                build(workdir)
            except pytest.fail.Exception as error:
                failure.write_text(str(error))
                raise
            (workdir / ".built").touch()
    return workdir


def _run_test_config(workdir: Path) -> None:
    snakemake = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
    config = ["--configfile", str(ROOT / "config" / "test.yaml")]
    run = subprocess.run(
        [*snakemake, "--directory", str(workdir), "--cores", "2", *config],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    if run.returncode != 0:
        logs = "\n".join(
            f"--- {p}\n{p.read_text()[-3000:]}"
            for p in sorted(workdir.glob("results/**/logs/**/*.log"))
        )
        pytest.fail(f"snakemake failed:\n{run.stderr[-5000:]}\n{logs}")


@pytest.fixture(scope="session")
def test_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole DAG of config/test.yaml, run once locally in a scratch folder (read-only for tests:
    the workflow tests check its products, the SLURM test compares its own run with them)."""
    return _built_once(tmp_path_factory, "workflow", _run_test_config)
