"""Where a run's numbers come from: its resolved config, the workflow's git commit, package
versions, the devices and precisions it trained on, the date, Python and the CPU.

A report without these cannot be reproduced or compared with another run; each fact is read
from the run's own files or the environment the report is written in, never typed in.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from dmr.errors import InputError
from dmr.io import write_json
from dmr.train.history import read_history

#: Distributions whose versions decide the numbers (and the report itself).
PACKAGES: tuple[str, ...] = (
    "dmr-cardiac",
    "torch",
    "snakemake",
    "simpleitk",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "scikit-image",
    "matplotlib",
    "seaborn",
    "pillow",
    "pyyaml",
    "jinja2",
)
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Provenance:
    """The facts the report's header shows."""

    date: str
    commit: str
    python: str
    platform: str
    cpu: str
    packages: dict[str, str]
    devices: list[dict[str, Any]]
    config: dict[str, Any]


def write_config(text: str, path: str | os.PathLike[str]) -> None:
    """Write the resolved config (JSON text from Snakemake) to ``path``, indented, atomically."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--config-json: not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise InputError("--config-json: expected a JSON object (the resolved config)")
    write_json(path, config)


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The resolved config written by :func:`write_config`."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable config JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise InputError(f"{path}: expected a JSON object (the resolved config)")
    return config


def _git(workflow_dir: Path, *args: str) -> str | None:
    try:
        run = subprocess.run(
            ["git", "-C", str(workflow_dir), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return run.stdout.strip() if run.returncode == 0 else None


def git_commit(workflow_dir: str | os.PathLike[str]) -> str:
    """``HEAD`` of the workflow's checkout, ``"<sha> (dirty)"`` with uncommitted changes (untracked
    files included: a new rule file changes the run), ``"unknown"`` outside a git checkout."""
    if shutil.which("git") is None:
        return UNKNOWN
    workflow_dir = Path(workflow_dir)
    sha = _git(workflow_dir, "rev-parse", "HEAD")
    if not sha:
        return UNKNOWN
    status = _git(workflow_dir, "status", "--porcelain")
    return f"{sha} (dirty)" if status else sha


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed version of each distribution (``"not installed"`` when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_model(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``, else ``platform.processor()``) and the
    number of logical CPUs."""
    model = ""
    try:
        for line in Path(cpuinfo).read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
                break
    except OSError:
        pass
    model = model or platform.processor() or UNKNOWN
    return f"{model}, {os.cpu_count() or '?'} logical CPUs"


def training_devices(histories: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Devices and precisions (``""`` when a history does not record it) the trainings ran on,
    with the number of trainings.

    One training is one history (dataset, model, fold); a training that moved devices between
    epochs counts under each device it used.
    """
    rows = []
    for path in histories:
        history = read_history(path, required=("epoch", "device"))
        precision = history["precision"] if "precision" in history.columns else None
        pairs = pd.DataFrame(
            {
                "device": history["device"].astype(str),
                "precision": precision.astype(str) if precision is not None else "",
            }
        ).drop_duplicates()
        rows += pairs.to_dict("records")
    if not rows:
        return []
    counts = pd.DataFrame(rows).value_counts(["device", "precision"], sort=False)
    return [
        {"device": device, "precision": precision, "trainings": int(n)}
        for (device, precision), n in counts.sort_index().items()
    ]


def collect_provenance(
    config: dict[str, Any],
    workflow_dir: str | os.PathLike[str],
    histories: Sequence[str | os.PathLike[str]],
    *,
    now: datetime | None = None,
) -> Provenance:
    """Every provenance fact of a run (``now``: the report's date, UTC by default)."""
    now = now or datetime.now(UTC)
    return Provenance(
        date=now.isoformat(timespec="seconds"),
        commit=git_commit(workflow_dir),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        platform=platform.platform(),
        cpu=cpu_model(),
        packages=package_versions(),
        devices=training_devices(histories),
        config=config,
    )
