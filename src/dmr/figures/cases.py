"""Figs. 1 and S1: one test patient, reference vs predicted segmentations.

The patient is chosen from a metric table, never by hand: the ED volume with the median mean Dice
(over the structures of the table) among the selecting model's test volumes; for an even count the
lower of the two middle volumes, ties broken by case id. Fig. 1 shows it in a short-axis slice,
two orthogonal long-axis reformats through the LV centre and 3-D surfaces; Fig. S1 shows every
model's segmentation of its slices and where each disagrees with the reference.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import SimpleITK as sitk
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from scipy import ndimage
from skimage.measure import marching_cubes

from dmr.errors import DatasetError, InputError
from dmr.figures.io import read_tables, save_figure
from dmr.figures.panels import crop_window, draw_surfaces, intensity_window, show_slice
from dmr.figures.style import (
    LABEL_COLOURS,
    LABEL_NAMES,
    PAPER_MODELS,
    add_note,
    figure_style,
    model_label,
    ordered_models,
    wrapped_title,
)
from dmr.figures.summaries import volume_dice
from dmr.geometry import geometry_mismatch
from dmr.labels import LV_CAVITY, STRUCTURE_LABELS

#: Fig. S1 shows at most this many short-axis slices (evenly spread over the heart).
MAX_SLICES = 8
PANEL_INCHES = 1.15
CUT_LINE = {"color": "white", "linewidth": 0.6, "linestyle": "--", "alpha": 0.8}


# --------------------------------------------------------------------------- choosing the case
def select_case(metrics: pd.DataFrame, phase: str = "ED", what: str = "metric table") -> dict:
    """The ``phase`` volume with the median mean Dice of the one model in ``metrics``.

    Returns ``case, fold, group, phase, dice, model, n`` (n = volumes it was chosen among).
    """
    models = sorted(set(metrics.get("model", pd.Series(dtype=str))))
    if len(models) != 1:
        raise InputError(f"{what}: expected the metrics of one model, found {models}")
    structures = [s for s in STRUCTURE_LABELS if s in set(metrics["structure"])]
    volumes = volume_dice(metrics, structures, what)
    volumes = volumes[volumes["phase"] == phase]
    if volumes.empty:
        raise InputError(f"{what}: no {phase} volume")
    ranked = volumes.sort_values(["dice", "case"], kind="stable").reset_index(drop=True)
    chosen = ranked.iloc[(len(ranked) - 1) // 2]
    return {
        "case": str(chosen["case"]),
        "fold": int(chosen["fold"]),
        "group": "" if pd.isna(chosen["group"]) else str(chosen["group"]),
        "phase": phase,
        "dice": float(chosen["dice"]),
        "model": models[0],
        "n": len(ranked),
    }


def read_selection(metrics_csv: Path, phase: str = "ED") -> dict:
    """:func:`select_case` on one per-case metric CSV."""
    return select_case(read_tables([metrics_csv], "metric"), phase, str(metrics_csv))


def selection_text(selection: Mapping) -> str:
    """How the case was chosen, for titles and captions."""
    group = f" (group {selection['group']})" if selection["group"] else ""
    return (
        f"{selection['case']}{group}, {selection['phase']}: the {model_label(selection['model'])} "
        f"test volume with the median mean Dice ({selection['dice']:.3f}) of "
        f"{selection['n']} {selection['phase']} volumes"
    )


# --------------------------------------------------------------------------- reading volumes
@dataclass(frozen=True)
class CaseVolumes:
    """Image, reference and predictions of one case and phase, all on the image's grid."""

    image: sitk.Image
    reference: sitk.Image
    predictions: dict[str, sitk.Image]


def load_case(
    fmt: str, raw: Path, case_id: str, phase: str, predictions: Mapping[str, Path]
) -> CaseVolumes:
    """Read the raw image and reference (the pipeline's readers) and each model's prediction
    ``<dir>/<case>_<phase>.nii.gz``; InputError when a prediction is missing or off-grid."""
    from dmr.datasets import read_dataset
    from dmr.evaluation.evaluate import read_label_map

    cases = {case.case_id: case for case in read_dataset(fmt, Path(raw))}
    if case_id not in cases:
        raise DatasetError(f"{raw}: case {case_id!r} of the metric table is not in the dataset")
    frame = cases[case_id].load_phase(phase)
    if frame.label is None:
        raise DatasetError(f"{cases[case_id].path}: no {phase} reference for {case_id}")
    loaded = {}
    for model, folder in predictions.items():
        path = Path(folder) / f"{case_id}_{phase}.nii.gz"
        if not path.is_file():
            raise InputError(f"{path}: prediction of {model} not found")
        label = read_label_map(path)
        mismatch = geometry_mismatch(frame.label, label, expected_name="reference")
        if mismatch is not None:
            raise InputError(f"{path}: {mismatch}")
        loaded[model] = label
    return CaseVolumes(frame.image, frame.label, loaded)


# --------------------------------------------------------------------------- geometry
def isotropic(image: sitk.Image, spacing: float, interpolator: int) -> sitk.Image:
    """``image`` resampled to ``spacing`` mm on every axis over the same field of view (the outer
    voxel edges stay put), e.g. linear for the image and nearest neighbour for labels."""
    old_spacing = np.array(image.GetSpacing())
    size = [
        max(1, round(n * s / spacing)) for n, s in zip(image.GetSize(), old_spacing, strict=True)
    ]
    matrix = np.array(image.GetDirection()).reshape(3, 3)
    origin = np.array(image.GetOrigin()) + matrix @ (0.5 * (spacing - old_spacing))
    reference = sitk.Image(size, image.GetPixelID())
    reference.SetSpacing([spacing] * 3)
    reference.SetOrigin(origin.tolist())
    reference.SetDirection(image.GetDirection())
    return sitk.Resample(image, reference, sitk.Transform(), interpolator, 0.0)


def lv_centre(reference: np.ndarray) -> np.ndarray:
    """(z, y, x) centroid (voxel index) of the LV cavity, or of all structures without one."""
    mask = reference == LV_CAVITY
    if not mask.any():
        mask = reference > 0
    if not mask.any():
        raise InputError("the reference segmentation is empty: no heart to centre the views on")
    return np.array(ndimage.center_of_mass(mask))


def structure_surfaces(
    label: sitk.Image, box: tuple[slice, ...], spacing: float
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Marching-cubes mesh of each structure of ``label`` inside ``box`` (z, y, x slices).

    Each binary mask is resampled linearly to ``spacing`` mm (so the surface interpolates between
    thick short-axis slices instead of stacking slabs), smoothed by one voxel and cut at 0.5.
    Vertices are (x, y, z) mm relative to the box corner.
    """
    array = sitk.GetArrayFromImage(label)[box]
    zyx_spacing = np.array(label.GetSpacing()[::-1])
    surfaces = {}
    for value in LABEL_COLOURS:
        mask = np.pad((array == value).astype(np.float32), 1)
        if not mask.any():
            continue
        volume = sitk.GetImageFromArray(mask)
        volume.SetSpacing(zyx_spacing[::-1].tolist())
        fine = sitk.GetArrayFromImage(isotropic(volume, spacing, sitk.sitkLinear))
        fine = ndimage.gaussian_filter(fine, sigma=1.0)
        if fine.max() <= 0.5:
            continue
        step = 1 if fine.size < 2_000_000 else 2
        vertices, faces, _, _ = marching_cubes(
            fine, level=0.5, spacing=(spacing,) * 3, step_size=step
        )
        surfaces[value] = (vertices[:, ::-1], faces)
    return surfaces


def _foreground_box(arrays: Sequence[np.ndarray], margin: int = 2) -> tuple[slice, ...]:
    union = np.zeros(arrays[0].shape, dtype=bool)
    for array in arrays:
        union |= array > 0
    if not union.any():
        return tuple(slice(0, n) for n in union.shape)
    box = []
    for axis, n in enumerate(union.shape):
        hit = np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != axis)))
        box.append(slice(max(int(hit[0]) - margin, 0), min(int(hit[-1]) + margin + 1, n)))
    return tuple(box)


# --------------------------------------------------------------------------- Fig. 1
def plot_case_views(volumes: CaseVolumes, model: str, title: str) -> Figure:
    """Fig. 1: rows reference / ``model``; columns short axis, two long-axis reformats, 3-D."""
    image = volumes.image
    labels = {"Reference": volumes.reference, model_label(model): volumes.predictions[model]}
    reference = sitk.GetArrayFromImage(volumes.reference)
    centre = lv_centre(reference)  # (z, y, x) on the original grid
    z0 = round(centre[0])
    spacing_xyz = np.array(image.GetSpacing())
    iso_mm = float(min(spacing_xyz))
    iso_grid = isotropic(image, iso_mm, sitk.sitkLinear)
    iso_image = sitk.GetArrayFromImage(iso_grid).astype(float)
    iso_labels = {
        name: sitk.GetArrayFromImage(isotropic(lab, iso_mm, sitk.sitkNearestNeighbor))
        for name, lab in labels.items()
    }
    physical = image.TransformContinuousIndexToPhysicalPoint(centre[::-1].tolist())
    iso_centre = iso_grid.TransformPhysicalPointToContinuousIndex(physical)[::-1]
    _, iy, ix = (
        min(max(round(v), 0), n - 1) for v, n in zip(iso_centre, iso_image.shape, strict=True)
    )

    sax_spacing = (spacing_xyz[1], spacing_xyz[0])
    rows_sax, cols_sax = crop_window(reference.any(axis=0), sax_spacing)
    rows_iso, cols_iso = crop_window(iso_labels["Reference"].any(axis=0), (iso_mm, iso_mm))
    sax_image = sitk.GetArrayFromImage(image)[z0].astype(float)
    window = intensity_window(sax_image[rows_sax, cols_sax])
    box = _foreground_box([sitk.GetArrayFromImage(lab) for lab in labels.values()])
    meshes = {name: structure_surfaces(lab, box, iso_mm) for name, lab in labels.items()}
    # Meshes live in the box padded by one voxel (structure_surfaces), x, y, z in mm.
    extent = (np.array([s.stop - s.start for s in box][::-1]) + 2) * spacing_xyz
    limits = (np.zeros(3), extent)

    with figure_style():
        fig = plt.figure(figsize=(10.0, 5.4))
        grid = fig.add_gridspec(2, 4, width_ratios=[1, 1, 1, 1.2], wspace=0.05, hspace=0.12)
        for row, (name, lab) in enumerate(labels.items()):
            array = sitk.GetArrayFromImage(lab)
            iso = iso_labels[name]
            panels = [
                (sax_image[rows_sax, cols_sax], array[z0][rows_sax, cols_sax], sax_spacing),
                (iso_image[:, iy, cols_iso], iso[:, iy, cols_iso], (iso_mm, iso_mm)),
                (iso_image[:, rows_iso, ix], iso[:, rows_iso, ix], (iso_mm, iso_mm)),
            ]
            for col, (img, lab2d, spacing) in enumerate(panels):
                ax = fig.add_subplot(grid[row, col])
                show_slice(ax, img, lab2d, spacing, window)
                if col == 0:
                    ax.set_ylabel(name, fontsize=9)
                if row == 0:
                    ax.set_title(
                        [
                            f"short axis (slice {z0 + 1} of {reference.shape[0]})",
                            "long-axis reformat (x-z)",
                            "long-axis reformat (y-z)",
                        ][col]
                    )
                # Dashed lines where the other panels cut this one. The iso grid shares the
                # field of view, so mm from the image edge agree between the grids.
                if col == 0:
                    ax.axhline((iy + 0.5) * iso_mm - rows_sax.start * sax_spacing[0], **CUT_LINE)
                    ax.axvline((ix + 0.5) * iso_mm - cols_sax.start * sax_spacing[1], **CUT_LINE)
                else:
                    ax.axhline((z0 + 0.5) * spacing_xyz[2], **CUT_LINE)
            ax3d = fig.add_subplot(grid[row, 3], projection="3d")
            draw_surfaces(ax3d, meshes[name], limits)
            ax3d.view_init(elev=25, azim=-60)
            if row == 0:
                ax3d.set_title("3-D surfaces")
        handles = [Patch(color=LABEL_COLOURS[v], label=LABEL_NAMES[v]) for v in LABEL_COLOURS]
        fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
        wrapped_title(fig, title, 9)
        fig.subplots_adjust(left=0.04, right=0.99, top=0.88, bottom=0.08)
    return fig


def write_case_views(
    fmt: str, raw: Path, metrics_csv: Path, predictions: Path, prefix: Path
) -> dict:
    """Fig. 1 for the case :func:`read_selection` picks from ``metrics_csv``; returns it."""
    selection = read_selection(metrics_csv)
    model = selection["model"]
    volumes = load_case(fmt, raw, selection["case"], selection["phase"], {model: predictions})
    fig = plot_case_views(volumes, model, selection_text(selection))
    save_figure(fig, prefix)
    return selection


# --------------------------------------------------------------------------- Fig. S1
def _shown_slices(reference: np.ndarray) -> list[int]:
    occupied = np.flatnonzero(reference.reshape(reference.shape[0], -1).any(axis=1))
    if occupied.size <= MAX_SLICES:
        return occupied.tolist()
    return sorted({int(occupied[round(i)]) for i in np.linspace(0, occupied.size - 1, MAX_SLICES)})


def plot_all_models(volumes: CaseVolumes, title: str, note: str = "") -> Figure:
    """Fig. S1: the reference, then per model its overlay and its disagreement (black) with the
    reference, over the short-axis slices holding the heart (at most :data:`MAX_SLICES`)."""
    image = sitk.GetArrayFromImage(volumes.image).astype(float)
    reference = sitk.GetArrayFromImage(volumes.reference)
    spacing = (volumes.image.GetSpacing()[1], volumes.image.GetSpacing()[0])
    shown = _shown_slices(reference)
    rows_c, cols_c = crop_window(reference.any(axis=0), spacing)
    window = intensity_window(image[shown][:, rows_c, cols_c])
    faint = (window[0] - 2.0 * (window[1] - window[0]), window[1])
    models = ordered_models(volumes.predictions)
    n_rows = 1 + 2 * len(models)
    with figure_style():
        fig, axes = plt.subplots(
            n_rows,
            len(shown),
            figsize=(PANEL_INCHES * len(shown) + 0.6, PANEL_INCHES * n_rows + 0.9),
            squeeze=False,
        )
        rows = [("Reference", reference, False)]
        for model in models:
            prediction = sitk.GetArrayFromImage(volumes.predictions[model])
            label = textwrap.fill(model_label(model), 16)
            rows.append((label, prediction, False))
            rows.append((f"{label}\nvs reference", prediction != reference, True))
        for r, (name, array, disagreement) in enumerate(rows):
            for c, z in enumerate(shown):
                ax = axes[r, c]
                crop = (rows_c, cols_c)
                if disagreement:
                    show_slice(ax, image[z][crop], None, spacing, faint)
                    black = np.zeros((*array[z][crop].shape, 4), dtype=np.float32)
                    black[..., 3] = array[z][crop]
                    ax.imshow(black, extent=ax.images[0].get_extent())
                else:
                    show_slice(ax, image[z][crop], array[z][crop], spacing, window)
                if c == 0:
                    ax.set_ylabel(name, fontsize=7)
                if r == 0:
                    ax.set_title(f"slice {z + 1}", fontsize=7)
        handles = [Patch(color=LABEL_COLOURS[v], label=LABEL_NAMES[v]) for v in LABEL_COLOURS]
        handles.append(Patch(color="black", label="disagreement with the reference"))
        fig.legend(
            handles=handles, loc="lower center", ncol=4, frameon=False, bbox_to_anchor=(0.5, 0.012)
        )
        wrapped_title(fig, title, 8)
        add_note(fig, note, 160)
        inches = fig.get_size_inches()
        fig.subplots_adjust(
            left=0.6 / inches[0] + 0.02,
            right=0.99,
            top=1 - 0.8 / inches[1],
            bottom=0.4 / inches[1],
            wspace=0.03,
            hspace=0.05,
        )
    return fig


def write_all_models(
    fmt: str,
    raw: Path,
    metrics_csv: Path,
    predictions: Mapping[str, Path],
    prefix: Path,
) -> dict:
    """Fig. S1 for the case picked from ``metrics_csv`` with every model of ``predictions``."""
    if not predictions:
        raise InputError("Fig. S1 needs at least one model's predictions")
    selection = read_selection(metrics_csv)
    volumes = load_case(fmt, raw, selection["case"], selection["phase"], predictions)
    absent = [m for m in PAPER_MODELS if m not in predictions]
    note = f"Not run (absent from the config): {', '.join(absent)}." if absent else ""
    fig = plot_all_models(volumes, selection_text(selection), note)
    save_figure(fig, prefix)
    return selection
