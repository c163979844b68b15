"""What a run is, said on the report's first screen: the paper's experiment, a miniature of it,
or a smoke run, read from the resolved config.

A reader who opens a report of the embedded default must not take its Dice for the paper's,
nor its claims for a test of the paper's numbers; a smoke run's models learn nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dmr.settings import arch_overrides, training_settings

#: The paper's training (II.F): epochs per dataset format, and the first level's width.
PAPER_EPOCHS: dict[str, int] = {"acdc": 100, "lvsc": 30}
PAPER_WIDTH = 32
#: Fewer epochs than this on any dataset: the models cannot be expected to learn the task.
SMOKE_EPOCHS = 5

PAPER, MINIATURE, SMOKE = "paper", "miniature", "smoke run"


@dataclass(frozen=True)
class RunScope:
    """``kind`` (:data:`PAPER`, :data:`MINIATURE`, :data:`SMOKE`) and why, line by line."""

    kind: str
    reasons: list[str] = field(default_factory=list)
    meaning: str = ""


def _dataset_training(config: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The training settings of each architecture on dataset ``name``, as the workflow merges
    them (``dmr.settings``): the dataset's own, then each ``by_arch`` entry's."""
    return [
        training_settings(config, name),
        *(training_settings(config, name, arch) for arch in arch_overrides(config, name)),
    ]


def run_scope(config: dict[str, Any]) -> RunScope:
    """Classify the run of ``config`` (a resolved config, as ``results/report/config.json``)."""
    reasons, shortest = [], None
    datasets = config.get("datasets", {})
    phantoms = sorted(n for n, d in datasets.items() if d.get("source") == "phantom")
    if phantoms:
        reasons.append(f"synthetic phantom data ({', '.join(phantoms)}), not the real datasets")
    for name, dataset in sorted(datasets.items()):
        settings = _dataset_training(config, name)
        epochs = sorted({int(s.get("epochs", 0)) for s in settings})
        widths = sorted({int(s.get("width", PAPER_WIDTH)) for s in settings})
        shortest = min(epochs[0], shortest) if shortest is not None else epochs[0]
        paper_epochs = PAPER_EPOCHS.get(str(dataset.get("format")))
        if paper_epochs and epochs[0] < paper_epochs:
            span = "-".join(map(str, (epochs[0], epochs[-1]) if len(epochs) > 1 else epochs))
            reasons.append(f"{name}: {span} epochs instead of the paper's {paper_epochs}")
        if widths[0] < PAPER_WIDTH:
            reasons.append(f"{name}: width {widths[0]} instead of the paper's {PAPER_WIDTH}")
        caps = sorted(
            {int(s["max_steps_per_epoch"]) for s in settings if s.get("max_steps_per_epoch")}
        )
        if caps:
            steps = f"{caps[0]} training step{'s' if caps[0] != 1 else ''}"
            reasons.append(f"{name}: at most {steps} per epoch (a rehearsal)")
        size = dataset.get("preprocess", {}).get("size")
        if size is not None and int(size) < 128:
            reasons.append(f"{name}: {size} px network input instead of the paper's 256/192")
    if shortest is not None and shortest < SMOKE_EPOCHS:
        return RunScope(
            SMOKE,
            reasons,
            f"A smoke run ({shortest} epochs): it shows that every step of the pipeline runs. "
            "Its models have not learned the task, so its numbers mean nothing and its claims "
            "are not judged (`not meaningful`).",
        )
    if reasons:
        return RunScope(
            MINIATURE,
            reasons,
            "A miniature of the paper's experiments. Its numbers are not comparable with the "
            "paper's (they stand side by side); its claims say whether the method behaves on "
            "this data, at this scale, as the paper says it does on real data, not whether the "
            "paper's numbers hold.",
        )
    return RunScope(PAPER)
