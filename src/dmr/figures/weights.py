"""Fig. S5: distribution of the convolution weights of each baseline vs its DMR version.

The weights of every fold's ``model.pt`` (the inference network, regularizer removed, so base and
DMR networks have the same layers) are pooled per model and binned on edges shared by the pair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dmr.errors import InputError
from dmr.figures.io import save_figure
from dmr.figures.network import load_bundles
from dmr.figures.style import ARCH_LABELS, add_note, figure_style, model_colour, model_label

#: Bins of each weight histogram.
HISTOGRAM_BINS = 80
METHOD = "pooled histogram of the convolution weights of every fold (no interval)"


def convolution_weights(bundle: Mapping) -> np.ndarray:
    """Every convolution / transposed-convolution kernel weight of a bundle, flattened."""
    kernels = [
        t.detach().float().reshape(-1).numpy()
        for name, t in bundle["state_dict"].items()
        if name.endswith(".weight") and t.ndim == 4
    ]
    if not kernels:
        raise InputError(f"{bundle['path']}: no convolution weights in the state dict")
    return np.concatenate(kernels)


def weight_table(
    bundles: Sequence[Mapping], bins: int = HISTOGRAM_BINS
) -> tuple[pd.DataFrame, str]:
    """Fig. S5: per dataset and architecture with both a base and a DMR model, the histogram of
    each model's convolution weights pooled over its folds, on bins shared by the pair.

    Returns the table (``dataset, arch, model, label, bin_low, bin_high, n, density, n_weights,
    sd, n_folds, method``; ``n`` weights in the bin, ``sd`` of the pooled weights) and a note
    naming the architectures skipped for lack of a pair.
    """
    weights: dict[tuple[str, str], list[np.ndarray]] = {}
    folds: dict[tuple[str, str], set[int]] = {}
    for bundle in bundles:
        key = (str(bundle["dataset"]), str(bundle["model_name"]))
        if int(bundle["fold"]) in folds.setdefault(key, set()):
            raise InputError(f"{bundle['path']}: a second file for {key} fold {bundle['fold']}")
        folds[key].add(int(bundle["fold"]))
        weights.setdefault(key, []).append(convolution_weights(bundle))
    rows, skipped = [], []
    for dataset in sorted({d for d, _ in weights}):
        for arch in ARCH_LABELS:
            pair = [f"{arch}-base", f"{arch}-dmr"]
            present = [m for m in pair if (dataset, m) in weights]
            if len(present) == 1:
                skipped.append(f"{dataset} {present[0]} (no {'/'.join(set(pair) - set(present))})")
            if len(present) < 2:
                continue
            pooled = {m: np.concatenate(weights[(dataset, m)]) for m in pair}
            reach = max(float(np.abs(w).max()) for w in pooled.values()) or 1.0
            edges = np.linspace(-reach, reach, bins + 1)
            for model, values in pooled.items():
                counts, _ = np.histogram(values, bins=edges)
                density = counts / (values.size * np.diff(edges))
                for k in range(bins):
                    rows.append(
                        {
                            "dataset": dataset,
                            "arch": arch,
                            "model": model,
                            "label": model_label(model),
                            "bin_low": edges[k],
                            "bin_high": edges[k + 1],
                            "n": int(counts[k]),
                            "density": float(density[k]),
                            "n_weights": int(values.size),
                            "sd": float(values.std()),
                            "n_folds": len(folds[(dataset, model)]),
                            "method": METHOD,
                        }
                    )
    if not rows:
        raise InputError("Fig. S5 needs a base and a DMR model of one architecture")
    note = f"Skipped, no base/DMR pair: {', '.join(skipped)}." if skipped else ""
    return pd.DataFrame(rows), note


def plot_weights(
    table: pd.DataFrame, dataset_labels: Mapping[str, str] | None = None, note: str = ""
) -> Figure:
    """Fig. S5: one panel per dataset (rows) and architecture (columns), base vs DMR densities."""
    datasets = list(dict.fromkeys(table["dataset"]))
    archs = [a for a in ARCH_LABELS if a in set(table["arch"])]
    with figure_style():
        fig, axes = plt.subplots(
            len(datasets),
            len(archs),
            figsize=(3.2 * len(archs), 2.5 * len(datasets) + 0.5),
            squeeze=False,
        )
        for r, dataset in enumerate(datasets):
            for c, arch in enumerate(archs):
                ax = axes[r, c]
                panel = table[(table["dataset"] == dataset) & (table["arch"] == arch)]
                for model in (f"{arch}-base", f"{arch}-dmr"):
                    rows = panel[panel["model"] == model]
                    if rows.empty:
                        continue
                    centres = 0.5 * (rows["bin_low"] + rows["bin_high"])
                    sd, n_folds = rows["sd"].iloc[0], rows["n_folds"].iloc[0]
                    ax.step(
                        centres,
                        rows["density"],
                        where="mid",
                        color=model_colour(model),
                        linewidth=1.1,
                        label=f"{model_label(model)} (sd {sd:.3f}, {n_folds} fold(s))",
                    )
                ax.set_yscale("log")
                low, high = ax.get_ylim()
                ax.set_ylim(low, high * 300)  # headroom for the legend above the peak
                ax.set_title(
                    f"{(dataset_labels or {}).get(dataset, dataset.upper())}: {ARCH_LABELS[arch]}"
                )
                ax.set_xlabel("convolution weight")
                ax.set_ylabel("density")
                ax.legend(frameon=False, fontsize=6, loc="upper left")
        add_note(fig, note, 140)
        fig.tight_layout(rect=(0, 0.04 if note else 0, 1, 1))
    return fig


def write_weights(
    model_files: Sequence[Path], prefix: Path, dataset_labels: Mapping[str, str] | None = None
) -> None:
    """Fig. S5 from every fold's ``model.pt`` of the base and DMR models."""
    table, note = weight_table(load_bundles(model_files, "model"))
    save_figure(plot_weights(table, dataset_labels, note), prefix, table)
