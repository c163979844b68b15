"""Truncated signed distance maps of binary masks (paper Eq. 2), the regularizer's targets.

Definition used throughout (pixels, in-plane, unit pixel spacing): a pixel's distance to the
object boundary is

* for a foreground pixel, the Euclidean distance from its centre to the centre of the nearest
  background pixel (so foreground pixels touching the background have distance 1);
* for a background pixel, the Euclidean distance to the centre of the nearest foreground pixel
  (background pixels touching the object have distance 1).

The boundary thus lies between the two pixel layers; no pixel has distance 0 and the sign alone
recovers the mask (``D > 0`` exactly on the foreground). Both transforms are
``scipy.ndimage.distance_transform_edt``. The image border is not a boundary: only pixels inside
the slice count.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if math.isnan(threshold) or threshold <= 0:
        raise ValueError(
            f"distance threshold must be > 0 (np.inf for no truncation), got {threshold}"
        )
    return threshold


def truncated_signed_distance(mask: np.ndarray, threshold: float) -> np.ndarray:
    """Paper Eq. 2 for one binary 2-D ``mask``: ``+d`` inside, ``-min(d, T)`` outside.

    Args:
        mask: (H, W) array, nonzero = foreground (bool or any numeric type).
        threshold: T in pixels, > 0; ``np.inf`` gives the untruncated signed distance.

    Returns:
        float32 (H, W). A mask without foreground gives ``-T`` everywhere (``-inf`` for
        ``T = inf``), which the paper uses to mark apical/basal slices beyond the heart.

    Raises:
        ValueError: not 2-D, ``T <= 0``, or a mask that is foreground everywhere (no boundary
            inside the slice, so the inside distance is undefined).
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    threshold = _check_threshold(threshold)
    foreground = mask != 0
    if not foreground.any():
        return np.full(mask.shape, -threshold, dtype=np.float32)
    if foreground.all():
        raise ValueError(
            f"mask of shape {mask.shape} is foreground everywhere: no boundary inside the slice"
        )
    inside = ndimage.distance_transform_edt(foreground)
    outside = ndimage.distance_transform_edt(~foreground)
    signed = np.where(foreground, inside, -np.minimum(outside, threshold))
    return signed.astype(np.float32)


def class_distance_maps(labels: np.ndarray, num_classes: int, threshold: float) -> np.ndarray:
    """One truncated signed distance map per foreground class of a class-index slice.

    Args:
        labels: (H, W) integer class indices in ``0..num_classes-1`` (0 = background).
        num_classes: C, including the background.
        threshold: T in pixels (see :func:`truncated_signed_distance`).

    Returns:
        float32 (C-1, H, W); channel ``c-1`` is the map of class ``c``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"expected a 2-D label slice, got shape {labels.shape}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2 (background + a structure), got {num_classes}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"class indices must lie in 0..{num_classes - 1}, "
            f"got values {sorted(np.unique(labels).tolist())}"
        )
    maps = np.empty((num_classes - 1, *labels.shape), dtype=np.float32)
    for class_index in range(1, num_classes):
        maps[class_index - 1] = truncated_signed_distance(labels == class_index, threshold)
    return maps
