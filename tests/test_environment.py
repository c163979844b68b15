"""The conda environment used by `--use-conda` pins exactly what pyproject.toml pins."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pyproject_pins() -> set[str]:
    return set(_project()["dependencies"])


def _extra(name: str) -> set[str]:
    return set(_project()["optional-dependencies"][name])


def _conda_pins() -> set[str]:
    env = yaml.safe_load((ROOT / "envs" / "dmr.yaml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "envs/dmr.yaml must have exactly one pip section"
    return {p for p in pip_sections[0] if not p.startswith("-e")}


def test_every_dependency_is_pinned_exactly() -> None:
    unpinned = [d for d in _pyproject_pins() if "==" not in d]
    assert not unpinned, f"pyproject.toml dependencies without an exact pin: {unpinned}"


def test_conda_environment_matches_pyproject() -> None:
    # The SLURM plugins are in the environment too: Snakemake runs inside each SLURM job.
    assert _conda_pins() == _pyproject_pins() | _extra("slurm")


def test_extras_are_pinned_and_the_tests_get_the_slurm_plugins() -> None:
    extras = _project()["optional-dependencies"]
    unpinned = [d for deps in extras.values() for d in deps if "==" not in d]
    assert not unpinned, f"pyproject.toml extras without an exact pin: {unpinned}"
    assert _extra("slurm") <= _extra("test")


def test_torch_is_the_cpu_wheel_pin() -> None:
    assert "torch==2.13.0" in _pyproject_pins()
