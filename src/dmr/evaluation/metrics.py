"""Segmentation metrics of the paper (section II.G, Eq. 8-10) as small pure kernels.

Definitions used throughout (every table of the project derives from these):

* Masks are boolean arrays on the image's *original* voxel grid; ``spacing`` is the voxel size in
  mm for each array axis, in the array's axis order (for ``sitk.GetArrayFromImage`` output that is
  ``image.GetSpacing()[::-1]``). Distances therefore come out in mm, volumes in ml.
* Surface: the mask XOR its binary erosion by the face-connected structuring element
  (``generate_binary_structure(ndim, 1)``, i.e. 6-connectivity in 3-D); voxels outside the array
  count as background, so a mask touching the array border has a surface there. This is the
  definition of medpy's ``hd``/``asd`` with ``connectivity=1``.
* Distance from a surface voxel of A to S_B: exact Euclidean distance (mm) to the nearest surface
  voxel of B (``distance_transform_edt`` with ``sampling=spacing``).
* MSD (Eq. 9) is the mean of the two directed mean surface distances, NOT the pooled average
  symmetric surface distance of medpy/MONAI (which weights each direction by its surface size).
  HD (Eq. 10) is the larger of the two directed maxima.
* Empty masks: both empty -> Dice 1, Jaccard 1, MSD 0, HD 0 (a correct "nothing here"); exactly
  one empty -> Dice 0, Jaccard 0, MSD NaN, HD NaN (no surface to measure to). Summaries count and
  report the NaN values rather than dropping them silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from dmr.labels import STRUCTURE_LABELS

MM3_PER_ML = 1000.0


# --------------------------------------------------------------------------- validation
def _as_bool_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"masks must have the same shape; got {a.shape} and {b.shape}")
    return a.astype(bool, copy=False), b.astype(bool, copy=False)


def _as_spacing(spacing: Sequence[float], ndim: int) -> np.ndarray:
    values = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if values.size != ndim:
        raise ValueError(f"spacing must have {ndim} values (one per axis); got {tuple(spacing)}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"spacing must be finite and positive; got {tuple(values.tolist())}")
    return values


# --------------------------------------------------------------------------- overlap
def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2|A∩B| / (|A|+|B|) (Eq. 8); 1.0 when both masks are empty."""
    a, b = _as_bool_pair(a, b)
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard coefficient |A∩B| / |A∪B| (Eq. 8); 1.0 when both masks are empty."""
    a, b = _as_bool_pair(a, b)
    union = int(np.logical_or(a, b).sum())
    if union == 0:
        return 1.0
    return int(np.logical_and(a, b).sum()) / union


# --------------------------------------------------------------------------- surfaces
def surface(mask: np.ndarray) -> np.ndarray:
    """Surface voxels: ``mask XOR erosion(mask)`` with the face-connected structuring element.

    Voxels outside the array are treated as background (``border_value=0``), so a mask touching
    the array border has surface voxels on that border.
    """
    mask = np.asarray(mask).astype(bool, copy=False)
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure=structure, iterations=1, border_value=0)
    return mask ^ eroded


def _union_crop(a: np.ndarray, b: np.ndarray) -> tuple[slice, ...]:
    """Bounding box of A∪B grown by one voxel (clipped to the array).

    Cropping to it changes no surface (the extra layer is background, or the array border, which
    erosion treats as background anyway) and no distance (all query and target voxels lie inside),
    so the distance transform runs on a small box instead of the whole volume.
    """
    coords = np.nonzero(np.logical_or(a, b))
    return tuple(
        slice(max(int(c.min()) - 1, 0), min(int(c.max()) + 2, size))
        for c, size in zip(coords, a.shape, strict=True)
    )


def _directed(a: np.ndarray, b: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Distances (mm) from each surface voxel of non-empty ``a`` to the surface of ``b``."""
    distance_to_b = ndimage.distance_transform_edt(~surface(b), sampling=spacing)
    return np.asarray(distance_to_b[surface(a)], dtype=np.float64)


def directed_surface_distances(
    a: np.ndarray, b: np.ndarray, spacing: Sequence[float]
) -> np.ndarray:
    """Distance (mm) from every surface voxel of ``a`` to the nearest surface voxel of ``b``.

    Returns an empty array when ``a`` is empty. Raises ``ValueError`` when ``a`` is non-empty and
    ``b`` is empty, because the distance to an empty surface is undefined.
    """
    a, b = _as_bool_pair(a, b)
    spacing_mm = _as_spacing(spacing, a.ndim)
    if not a.any():
        return np.zeros(0, dtype=np.float64)
    if not b.any():
        raise ValueError("distance to an empty mask is undefined (second mask is empty)")
    box = _union_crop(a, b)
    return _directed(a[box], b[box], spacing_mm)


def _both_directions(
    a: np.ndarray, b: np.ndarray, spacing: Sequence[float]
) -> tuple[np.ndarray, np.ndarray] | float:
    """Both directed distance sets, or the policy value (0.0 / NaN) when a mask is empty."""
    a, b = _as_bool_pair(a, b)
    spacing_mm = _as_spacing(spacing, a.ndim)
    has_a, has_b = bool(a.any()), bool(b.any())
    if not has_a and not has_b:
        return 0.0
    if has_a != has_b:
        return float("nan")
    box = _union_crop(a, b)
    a, b = a[box], b[box]
    return _directed(a, b, spacing_mm), _directed(b, a, spacing_mm)


def msd(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]) -> float:
    """Mean surface distance (mm), paper Eq. 9: mean of the two directed mean distances.

    Both masks empty -> 0.0; exactly one empty -> NaN.
    """
    result = _both_directions(a, b, spacing)
    if isinstance(result, float):
        return result
    a_to_b, b_to_a = result
    return 0.5 * (float(a_to_b.mean()) + float(b_to_a.mean()))


def hausdorff(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]) -> float:
    """Hausdorff distance (mm), paper Eq. 10: the larger of the two directed maxima.

    Both masks empty -> 0.0; exactly one empty -> NaN.
    """
    result = _both_directions(a, b, spacing)
    if isinstance(result, float):
        return result
    a_to_b, b_to_a = result
    return max(float(a_to_b.max()), float(b_to_a.max()))


# --------------------------------------------------------------------------- label maps
def _check_label_maps(gt_labels: np.ndarray, pred_labels: np.ndarray) -> None:
    if np.shape(gt_labels) != np.shape(pred_labels):
        raise ValueError(
            f"label maps must have the same shape; got reference {np.shape(gt_labels)} and "
            f"prediction {np.shape(pred_labels)}"
        )


def structure_metrics(
    gt_labels: np.ndarray,
    pred_labels: np.ndarray,
    spacing: Sequence[float],
    structures: Sequence[str],
) -> list[dict[str, float | str]]:
    """Paper metrics of each structure (names of ``dmr.labels.STRUCTURE_LABELS``) of one volume.

    Returns one dict per structure with ``structure, dice, jaccard, msd_mm, hd_mm,
    volume_gt_ml, volume_pred_ml``; the empty-mask policy of the module docstring applies.
    """
    gt_labels = np.asarray(gt_labels)
    pred_labels = np.asarray(pred_labels)
    _check_label_maps(gt_labels, pred_labels)
    spacing_mm = _as_spacing(spacing, gt_labels.ndim)
    unknown = [s for s in structures if s not in STRUCTURE_LABELS]
    if unknown:
        raise ValueError(f"unknown structure(s) {unknown}; known: {sorted(STRUCTURE_LABELS)}")
    voxel_ml = float(np.prod(spacing_mm)) / MM3_PER_ML
    rows: list[dict[str, float | str]] = []
    for name in structures:
        gt = gt_labels == STRUCTURE_LABELS[name]
        pred = pred_labels == STRUCTURE_LABELS[name]
        distances = _both_directions(gt, pred, spacing_mm)
        if isinstance(distances, float):
            msd_mm = hd_mm = distances
        else:
            gt_to_pred, pred_to_gt = distances
            msd_mm = 0.5 * (float(gt_to_pred.mean()) + float(pred_to_gt.mean()))
            hd_mm = max(float(gt_to_pred.max()), float(pred_to_gt.max()))
        rows.append(
            {
                "structure": name,
                "dice": dice(gt, pred),
                "jaccard": jaccard(gt, pred),
                "msd_mm": msd_mm,
                "hd_mm": hd_mm,
                "volume_gt_ml": int(gt.sum()) * voxel_ml,
                "volume_pred_ml": int(pred.sum()) * voxel_ml,
            }
        )
    return rows


def slice_confusion(gt: np.ndarray, pred: np.ndarray, label: int) -> list[dict[str, int | float]]:
    """Per-slice confusion counts of one label along axis 0 (z of a (Z, Y, X) array).

    Returns one dict per slice with ``slice, tp, fp, fn, tn, dice``; ``dice`` follows the module's
    policy (1.0 when reference and prediction are both empty on that slice). Regional summaries
    (paper Fig. 4) can pool ``tp/fp/fn`` over slices instead of averaging per-slice Dice.
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    _check_label_maps(gt, pred)
    if gt.ndim < 2:
        raise ValueError(f"label maps must have at least 2 dimensions; got shape {gt.shape}")
    reference = (gt == label).reshape(gt.shape[0], -1)
    predicted = (pred == label).reshape(pred.shape[0], -1)
    tp = np.logical_and(reference, predicted).sum(axis=1)
    fp = np.logical_and(~reference, predicted).sum(axis=1)
    fn = np.logical_and(reference, ~predicted).sum(axis=1)
    tn = reference.shape[1] - tp - fp - fn
    rows: list[dict[str, int | float]] = []
    for index in range(gt.shape[0]):
        denominator = 2 * int(tp[index]) + int(fp[index]) + int(fn[index])
        rows.append(
            {
                "slice": index,
                "tp": int(tp[index]),
                "fp": int(fp[index]),
                "fn": int(fn[index]),
                "tn": int(tn[index]),
                "dice": 1.0 if denominator == 0 else 2.0 * int(tp[index]) / denominator,
            }
        )
    return rows
