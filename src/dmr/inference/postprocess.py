"""Post-processing of predicted label maps: largest connected component and ensemble voting.

The paper (Sec. II.F) rearranges the 2-D slice predictions into a 3-D volume and keeps the
largest connected component of each heart structure; ensembles of the five fold models are
combined by a per-pixel majority vote (Sec. III.C).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage


def largest_component_per_label(
    labels: np.ndarray,
    label_values: Iterable[int] | None = None,
    connectivity: int | None = None,
) -> np.ndarray:
    """Keep only the largest connected component of every structure; the rest becomes background.

    Connectivity defaults to full connectivity (``labels.ndim``: 26-connected in 3-D), because
    short-axis slices are thick (5-10 mm) and a structure's cross-sections in neighbouring slices
    often overlap only diagonally. Components are found on the array grid, i.e. spacing is
    ignored. Among equally large components the one found first in C (z, y, x) order is kept.

    Args:
        labels: integer label map of any dimension (e.g. (Z, Y, X) from SimpleITK).
        label_values: structures to process; default every non-zero value present.
        connectivity: ``scipy.ndimage.generate_binary_structure`` rank connectivity, 1..ndim.

    Returns:
        A new array of the same shape and dtype.
    """
    labels = np.asarray(labels)
    if connectivity is None:
        connectivity = labels.ndim
    if not 1 <= connectivity <= labels.ndim:
        raise ValueError(f"connectivity must be in 1..{labels.ndim}, got {connectivity}")
    structure = ndimage.generate_binary_structure(labels.ndim, connectivity)
    values = np.unique(labels) if label_values is None else np.asarray(list(label_values))
    result = labels.copy()
    for value in values:
        if value == 0:
            continue
        mask = labels == value
        components, n_components = ndimage.label(mask, structure=structure)
        if n_components <= 1:
            continue
        sizes = np.bincount(components.ravel())
        sizes[0] = 0  # background of the component map
        keep = int(np.argmax(sizes))
        result[mask & (components != keep)] = 0
    return result


def majority_vote(label_maps: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel majority vote of several label maps of the same shape.

    Tie rule: among the values with the most votes the LOWEST label value wins, so a tie between
    background and a structure is resolved to background (conservative), and a tie between two
    structures to the one with the smaller label (1 RV < 2 myocardium < 3 LV).
    """
    if len(label_maps) == 0:
        raise ValueError("majority_vote needs at least one label map")
    stacked = np.stack([np.asarray(m) for m in label_maps])
    if len(label_maps) == 1:
        return stacked[0].copy()
    values = np.unique(stacked)  # ascending, so argmax's first maximum is the lowest label
    counts = np.stack([(stacked == v).sum(axis=0) for v in values])
    return values[np.argmax(counts, axis=0)].astype(stacked.dtype)
