"""Figs. S2 and S3: what the networks compute — predicted distance maps and feature maps.

Inputs are the training's own files: ``checkpoint.pt`` (the full network with the regularizer,
Fig. S2), ``model.pt`` (the inference bundle, Fig. S3; Fig. S5 in ``weights``) and the slices the
networks were trained on. Bundles describe themselves (model name, dataset, fold), so the files
are chosen by their contents, not by their paths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from torch import nn

from dmr.errors import InputError
from dmr.figures.cases import read_selection, selection_text
from dmr.figures.io import save_figure
from dmr.figures.panels import bare, crop_window, intensity_window, show_slice
from dmr.figures.style import (
    LABEL_COLOURS,
    LABEL_NAMES,
    STRUCTURE_NAMES,
    figure_style,
    model_label,
    wrapped_title,
)
from dmr.models import ModelConfig, build_model_from_config
from dmr.train.checkpoint import load_checkpoint

#: Fig. S2 shows at most this many slices of the case.
MAX_SLICES = 6
PANEL_INCHES = 1.2


# --------------------------------------------------------------------------- loading
def load_bundles(paths: Sequence[Path], kind: str) -> list[dict[str, Any]]:
    """Load ``model.pt`` / ``checkpoint.pt`` files (``kind``), each with its ``path`` added."""
    bundles = []
    for path in map(Path, paths):
        bundle = load_checkpoint(path, kind=kind)
        for key in ("model_config", "state_dict", "model_name", "dataset", "fold"):
            if key not in bundle:
                raise InputError(f"{path}: bundle lacks {key!r}")
        bundles.append({**bundle, "path": path})
    return bundles


def bundle_of_fold(bundles: Sequence[Mapping], fold: int, what: str) -> Mapping:
    """The one bundle trained on ``fold``; InputError naming the files otherwise."""
    chosen = [b for b in bundles if int(b["fold"]) == fold]
    if len(chosen) != 1:
        paths = [str(b["path"]) for b in bundles]
        raise InputError(
            f"{what}: expected one file of fold {fold} among {paths}, got {len(chosen)}"
        )
    return chosen[0]


def build_network(bundle: Mapping) -> nn.Module:
    """The network of a bundle in eval mode on the CPU."""
    try:
        network = build_model_from_config(ModelConfig.from_dict(dict(bundle["model_config"])))
        network.load_state_dict(bundle["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise InputError(
            f"{bundle['path']}: weights do not match the stored config ({exc})"
        ) from exc
    return network.eval()


def case_slices(preprocessed: Path, case: str, phase: str) -> dict[str, Any]:
    """The preprocessed slices of one case and phase: images (Z, S, S), class labels,
    untruncated distance maps (Z, C-1, S, S), slice numbers and ``meta.json``."""
    from dmr.train.data import open_slice_source, read_meta

    source = open_slice_source(preprocessed)
    try:
        rows = source.slices[(source.slices["case"] == case) & (source.slices["phase"] == phase)]
        if rows.empty:
            raise InputError(f"{preprocessed}: no {phase} slices of case {case!r} in slices.csv")
        rows = rows.sort_values("slice")
        index = rows["index"].to_numpy()
        return {
            "images": source.images.read(index),
            "labels": source.labels.read(index),
            "distmaps": source.distmaps.read(index).astype(np.float32),
            "slice": rows["slice"].to_numpy(),
            "meta": read_meta(preprocessed),
        }
    finally:
        for reader in (source.images, source.labels, source.distmaps):
            reader.close()


def _shown(labels: np.ndarray, limit: int) -> list[int]:
    occupied = np.flatnonzero(labels.reshape(labels.shape[0], -1).any(axis=1))
    if occupied.size == 0:
        raise InputError("the chosen case has no labelled slice")
    if occupied.size <= limit:
        return occupied.tolist()
    return sorted({int(occupied[round(i)]) for i in np.linspace(0, occupied.size - 1, limit)})


def _global(classes: np.ndarray, label_values: Sequence[int]) -> np.ndarray:
    return np.asarray(label_values, dtype=np.uint8)[classes]


# --------------------------------------------------------------------------- Fig. S2
@torch.no_grad()
def distance_map_predictions(bundle: Mapping, images: np.ndarray) -> dict[str, np.ndarray]:
    """Run the full (regularized) network: class predictions (Z, S, S) of the segmentation path
    and of the distance maps thresholded at 0 (:func:`classes_from_distance_maps`), and the
    predicted maps (Z, C-1, S, S)."""
    if not bundle["model_config"].get("regularized", False):
        raise InputError(f"{bundle['path']}: not a regularized (DMR) network; Fig. S2 needs one")
    network = build_network(bundle)
    logits, maps = network(torch.from_numpy(np.ascontiguousarray(images))[:, None])
    maps = maps.numpy()
    return {
        "segmentation": logits.argmax(dim=1).numpy(),
        "from_maps": classes_from_distance_maps(maps),
        "maps": maps,
    }


def classes_from_distance_maps(maps: np.ndarray) -> np.ndarray:
    """Class indices (Z, S, S) from signed distance maps (Z, C-1, S, S) thresholded at 0: the
    class whose map is largest where that map is positive, background (0) elsewhere."""
    inside = maps.max(axis=1) > 0
    return np.where(inside, maps.argmax(axis=1) + 1, 0)


def plot_distance_maps(
    data: Mapping[str, Any],
    predicted: Mapping[str, np.ndarray],
    model: str,
    threshold: float,
    title: str,
) -> Figure:
    """Fig. S2: (a) reference, segmentation and distance-map segmentation; (b) absolute error
    of the predicted distance maps per structure, cropped around the heart."""
    meta = data["meta"]
    values = meta["label_values"]
    structures = meta["structures"]
    shown = _shown(data["labels"], MAX_SLICES)
    spacing = (float(meta["spacing"]),) * 2
    rows, cols = crop_window(data["labels"].any(axis=0), spacing, half_mm=60.0)
    crop = (slice(None), rows, cols)
    images = data["images"][crop]
    target = np.maximum(data["distmaps"], -threshold)[:, :, rows, cols]
    error = np.abs(predicted["maps"][:, :, rows, cols] - target)
    window = intensity_window(images[shown])
    # Log scale: errors of a few pixels at the heart and of ~T far from it in one picture.
    norm = LogNorm(vmin=0.1, vmax=max(float(error[shown].max()), 1.0), clip=True)
    seg_rows = [
        ("Reference", _global(data["labels"][crop], values)),
        (model_label(model), _global(predicted["segmentation"][crop], values)),
        ("distance maps > 0", _global(predicted["from_maps"][crop], values)),
    ]
    n_rows = len(seg_rows) + len(structures)
    with figure_style():
        fig, axes = plt.subplots(
            n_rows,
            len(shown),
            figsize=(PANEL_INCHES * len(shown) + 1.6, PANEL_INCHES * n_rows + 1.0),
            squeeze=False,
        )
        for r, (name, labels) in enumerate(seg_rows):
            for c, z in enumerate(shown):
                show_slice(axes[r, c], images[z], labels[z], spacing, window)
                if r == 0:
                    axes[r, c].set_title(f"slice {int(data['slice'][z]) + 1}", fontsize=7)
            axes[r, 0].set_ylabel(name, fontsize=7)
        for k, structure in enumerate(structures):
            r = len(seg_rows) + k
            for c, z in enumerate(shown):
                ax = axes[r, c]
                heat = ax.imshow(error[z, k], cmap="magma", norm=norm)
                bare(ax)
            mad = float(error[shown, k].mean())
            axes[r, 0].set_ylabel(
                f"|error| {STRUCTURE_NAMES[structure]}\nMAD {mad:.1f} px", fontsize=7
            )
        bar = fig.colorbar(
            heat, ax=axes[len(seg_rows) :, :].ravel().tolist(), fraction=0.025, pad=0.02
        )
        bar.set_label(f"|predicted - reference| (pixels, log scale; T = {threshold:g})", fontsize=7)
        handles = [Patch(color=LABEL_COLOURS[v], label=LABEL_NAMES[v]) for v in values[1:]]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
        wrapped_title(fig, title, 8)
        inches = fig.get_size_inches()
        fig.subplots_adjust(
            left=0.9 / inches[0],
            right=0.88,
            top=1 - 0.8 / inches[1],
            bottom=0.35 / inches[1],
            wspace=0.03,
            hspace=0.06,
        )
    return fig


def write_distance_maps(
    checkpoints: Sequence[Path], metrics_csv: Path, preprocessed: Path, prefix: Path
) -> dict:
    """Fig. S2 for the case picked from ``metrics_csv`` (see :mod:`dmr.figures.cases`), with the
    checkpoint of the fold that tested it; T is the checkpoint's own training threshold."""
    selection = read_selection(metrics_csv)
    bundle = bundle_of_fold(
        load_bundles(checkpoints, "checkpoint"), selection["fold"], "checkpoints"
    )
    threshold = float(bundle["train_config"]["threshold"])
    data = case_slices(preprocessed, selection["case"], selection["phase"])
    _check_classes(bundle, data["meta"], preprocessed)
    predicted = distance_map_predictions(bundle, data["images"])
    title = f"{selection_text(selection)}; fold {selection['fold']} checkpoint with its regularizer"
    save_figure(
        plot_distance_maps(data, predicted, str(bundle["model_name"]), threshold, title), prefix
    )
    return selection


def _check_classes(bundle: Mapping, meta: Mapping, preprocessed: Path) -> None:
    if int(bundle["model_config"]["num_classes"]) != int(meta["num_classes"]):
        raise InputError(
            f"{bundle['path']}: {bundle['model_config']['num_classes']} classes, but "
            f"{preprocessed} has {meta['num_classes']}"
        )


# --------------------------------------------------------------------------- Fig. S3
#: Feature maps of Fig. S3: encoder level 1 before the first max-pool, the bottleneck, and the
#: last decoder features before the 1x1 classifier (module names of ``dmr.models``).
FEATURE_LAYERS: dict[str, str] = {
    "encoder.level1": "encoder, before the first max-pooling",
    "encoder.bottleneck": "bottleneck",
    "decoder.refine": "decoder, before the final 1x1 convolution",
}


@torch.no_grad()
def feature_maps(bundle: Mapping, image: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Forward one (S, S) image; the :data:`FEATURE_LAYERS` outputs (C, h, w) via forward hooks,
    and the predicted classes (S, S)."""
    network = build_network(bundle)
    modules = dict(network.named_modules())
    captured: dict[str, np.ndarray] = {}
    handles = []
    for name in FEATURE_LAYERS:
        if name not in modules:
            raise InputError(f"{bundle['path']}: network has no layer {name!r}")
        handles.append(
            modules[name].register_forward_hook(
                lambda _m, _i, out, name=name: captured.__setitem__(name, out[0].numpy().copy())
            )
        )
    try:
        logits = network(torch.from_numpy(np.ascontiguousarray(image))[None, None])
    finally:
        for handle in handles:
            handle.remove()
    return captured, logits[0].argmax(dim=0).numpy()


def mosaic(maps: np.ndarray, gap: int = 1) -> np.ndarray:
    """Tile (C, h, w) maps into one image, each scaled to [0, 1] by its own range, NaN gaps."""
    c, h, w = maps.shape
    n_cols = math.ceil(math.sqrt(c))
    n_rows = math.ceil(c / n_cols)
    out = np.full((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap), np.nan, dtype=np.float32)
    for k in range(c):
        m = maps[k].astype(np.float32)
        span = float(m.max() - m.min())
        m = (m - m.min()) / span if span > 0 else np.zeros_like(m)
        r, q = divmod(k, n_cols)
        out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = m
    return out


def plot_feature_maps(
    image: np.ndarray,
    reference: np.ndarray,
    outputs: Mapping[str, tuple[dict[str, np.ndarray], np.ndarray]],
    spacing: float,
    title: str,
) -> Figure:
    """Fig. S3: (a) image, reference and each model's segmentation; (b-d) feature maps of each
    :data:`FEATURE_LAYERS` layer, one column per model (``outputs``: model -> (maps, classes))."""
    models = list(outputs)
    window = intensity_window(image)
    cmap = plt.get_cmap("gray").with_extremes(bad="white")
    with figure_style():
        fig = plt.figure(figsize=(3.4 * len(models) + 0.6, 2.0 + 3.3 * len(FEATURE_LAYERS)))
        grid = fig.add_gridspec(1 + len(FEATURE_LAYERS), 1, height_ratios=[0.55, 1, 1, 1])
        top = grid[0].subgridspec(1, 2 + len(models), wspace=0.05)
        panels = [("image", None), ("reference", reference)] + [
            (model_label(m), outputs[m][1]) for m in models
        ]
        for k, (name, labels) in enumerate(panels):
            ax = fig.add_subplot(top[k])
            show_slice(ax, image, labels, (spacing, spacing), window)
            ax.set_title(f"(a) {name}" if k == 0 else name, fontsize=7)
        for row, (layer, caption) in enumerate(FEATURE_LAYERS.items(), start=1):
            sub = grid[row].subgridspec(1, len(models), wspace=0.04)
            for k, model in enumerate(models):
                maps = outputs[model][0][layer]
                ax = fig.add_subplot(sub[k])
                ax.imshow(mosaic(maps), cmap=cmap, vmin=0, vmax=1)
                bare(ax)
                letter = "bcd"[row - 1]
                ax.set_title(
                    f"({letter}) {model_label(model)}: {maps.shape[0]} maps, {caption}", fontsize=7
                )
        wrapped_title(fig, title, 8)
        fig.subplots_adjust(left=0.02, right=0.98, top=0.93, bottom=0.01, hspace=0.12)
    return fig


def write_feature_maps(
    base_models: Sequence[Path],
    dmr_models: Sequence[Path],
    metrics_csv: Path,
    preprocessed: Path,
    prefix: Path,
) -> dict:
    """Fig. S3: the base and the DMR network of the fold that tested the case picked from
    ``metrics_csv``, on that case's middle labelled slice."""
    selection = read_selection(metrics_csv)
    data = case_slices(preprocessed, selection["case"], selection["phase"])
    shown = _shown(data["labels"], 10**6)
    z = shown[len(shown) // 2]
    outputs = {}
    for paths, what in ((base_models, "base models"), (dmr_models, "DMR models")):
        bundle = bundle_of_fold(load_bundles(paths, "model"), selection["fold"], what)
        _check_classes(bundle, data["meta"], preprocessed)
        maps, classes = feature_maps(bundle, data["images"][z])
        outputs[str(bundle["model_name"])] = (maps, _global(classes, data["meta"]["label_values"]))
    reference = _global(data["labels"][z], data["meta"]["label_values"])
    title = (
        f"{selection_text(selection)}; slice {int(data['slice'][z]) + 1}, "
        f"fold {selection['fold']} models; each map scaled to its own range"
    )
    fig = plot_feature_maps(
        data["images"][z], reference, outputs, float(data["meta"]["spacing"]), title
    )
    save_figure(fig, prefix)
    return selection
