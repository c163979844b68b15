"""Per-slice confusion counts inside a region of interest (LV Segmentation Challenge, Table V).

The LVSC 2011 challenge (Suinesiaputra et al., MedIA 2014) scores each slice's myocardium against
the consensus (CS*) images with Jaccard, sensitivity, specificity, PPV and NPV. Specificity and NPV
count true negatives, which grow with the field of view, so they are only comparable when the
negatives are counted inside a region of interest around the heart. The definition used here (our
reading of that paper; its text is not part of this repository):

* the ROI of a slice is the axis-aligned bounding box of the union of the reference and the
  automatic myocardium of that slice, enlarged by ``margin_mm`` on each side (converted with the
  slice's pixel spacing and rounded up to whole pixels), clipped to the image;
* TP, FP, FN and TN are counted inside that box only;
* a slice where both masks are empty has an empty ROI: all four counts are 0, so every measure
  is undefined there and the tables exclude (and count) it.

The measures themselves (Jaccard = TP / (TP + FP + FN), sensitivity = TP / (TP + FN),
specificity = TN / (TN + FP), PPV = TP / (TP + FP), NPV = TN / (TN + FN)) are computed by the
tables from these counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Margin of the ROI around the union of both myocardium masks, in mm.
DEFAULT_MARGIN_MM = 10.0


def roi_box(
    reference: np.ndarray, prediction: np.ndarray, spacing_yx: Sequence[float], margin_mm: float
) -> tuple[slice, slice] | None:
    """Row and column slices of one 2-D slice's ROI, or ``None`` when both masks are empty."""
    if margin_mm < 0:
        raise ValueError(f"margin_mm must be >= 0, got {margin_mm}")
    union = np.asarray(reference, dtype=bool) | np.asarray(prediction, dtype=bool)
    if union.ndim != 2:
        raise ValueError(f"expected 2-D masks, got shape {union.shape}")
    rows = np.flatnonzero(union.any(axis=1))
    cols = np.flatnonzero(union.any(axis=0))
    if rows.size == 0:
        return None
    grow_y = math.ceil(margin_mm / float(spacing_yx[0]) - 1e-9)
    grow_x = math.ceil(margin_mm / float(spacing_yx[1]) - 1e-9)
    return (
        slice(max(int(rows[0]) - grow_y, 0), min(int(rows[-1]) + grow_y + 1, union.shape[0])),
        slice(max(int(cols[0]) - grow_x, 0), min(int(cols[-1]) + grow_x + 1, union.shape[1])),
    )


def roi_confusion(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing_yx: Sequence[float],
    margin_mm: float = DEFAULT_MARGIN_MM,
) -> dict[str, int]:
    """``roi_tp, roi_fp, roi_fn, roi_tn`` of two 2-D binary masks inside their ROI."""
    reference = np.asarray(reference, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    if reference.shape != prediction.shape:
        raise ValueError(
            f"masks must have the same shape; got {reference.shape} and {prediction.shape}"
        )
    box = roi_box(reference, prediction, spacing_yx, margin_mm)
    if box is None:
        return {"roi_tp": 0, "roi_fp": 0, "roi_fn": 0, "roi_tn": 0}
    ref, pred = reference[box], prediction[box]
    tp = int(np.count_nonzero(ref & pred))
    fp = int(np.count_nonzero(~ref & pred))
    fn = int(np.count_nonzero(ref & ~pred))
    return {"roi_tp": tp, "roi_fp": fp, "roi_fn": fn, "roi_tn": int(ref.size) - tp - fp - fn}


def volume_roi_confusion(
    reference: np.ndarray,
    prediction: np.ndarray,
    spacing_zyx: Sequence[float],
    margin_mm: float = DEFAULT_MARGIN_MM,
) -> list[dict[str, int]]:
    """:func:`roi_confusion` of every slice (axis 0) of two (Z, Y, X) binary masks."""
    reference = np.asarray(reference, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    if reference.ndim != 3 or reference.shape != prediction.shape:
        raise ValueError(
            f"expected two (Z, Y, X) masks of one shape, got {reference.shape} and "
            f"{prediction.shape}"
        )
    spacing_yx = (float(spacing_zyx[1]), float(spacing_zyx[2]))
    return [
        {"slice": z, **roi_confusion(reference[z], prediction[z], spacing_yx, margin_mm)}
        for z in range(reference.shape[0])
    ]
