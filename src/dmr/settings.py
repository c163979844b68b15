"""How training settings are layered: global < variant < dataset < the dataset's ``by_arch``.

One home for that rule, because three readers need it and must agree: the Snakefile (the options
each training job gets), the config check (augmented copies asked against copies written, before
any job runs) and the report (the epochs and widths its banner names). Kept free of heavy imports:
the Snakefile loads it at every start, locally and in every SLURM job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def arch_overrides(config: Mapping[str, Any], dataset: str) -> dict[str, dict[str, Any]]:
    """The dataset's per-architecture training overrides (``datasets.<name>.training.by_arch``)."""
    overrides = (config["datasets"][dataset].get("training") or {}).get("by_arch") or {}
    return {arch: dict(values or {}) for arch, values in overrides.items()}


def training_settings(
    config: Mapping[str, Any],
    dataset: str,
    arch: str | None = None,
    variant: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The training settings of one architecture (or of every one, ``arch`` None) on ``dataset``.

    Later layers win: ``training`` < the model's ``variant`` < ``datasets.<name>.training`` <
    its ``by_arch[arch]``. The ``by_arch`` key itself is not part of the result.
    """
    merged = dict(config.get("training") or {})
    merged.update(variant or {})
    dataset_overrides = dict(config["datasets"][dataset].get("training") or {})
    dataset_overrides.pop("by_arch", None)
    merged.update(dataset_overrides)
    if arch is not None:
        merged.update(arch_overrides(config, dataset).get(arch, {}))
    return merged
