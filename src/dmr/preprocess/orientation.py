"""One in-plane orientation for every short-axis stack, whatever the file format stored.

ACDC stores NIfTI volumes and LVSC 2-D DICOMs with direction cosines; two scanners (or two readers)
may store the same anatomy transposed or mirrored. A 2-D network sees the array, not the physical
space, so without a convention it would see the same heart in up to eight poses and a model
trained on one dataset would meet the other's hearts flipped. Every volume is therefore sliced on a
*canonical grid*: the same voxels (no interpolation), with the two in-plane axes permuted and
flipped so that

* the first array axis (x, columns) points as nearly as possible along the patient's +x (LPS:
  towards the patient's left), and
* the second (y, rows) as nearly as possible along +y (posterior),

choosing, among the eight in-plane permutations/flips, the one with the largest sum of these two
dot products (ties: the first in a fixed order). The slice axis is never changed, so slices stay
slices. The choice depends only on the physical geometry, so a transposed or mirrored copy of a
volume (same voxels in space, different storage) gets the identical canonical grid, hence the
identical network input and, mapped back by physical-space resampling
(:func:`dmr.preprocess.restore_labels`), the identical segmentation on its own grid.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

#: The patient axes the in-plane array axes are aligned with (LPS, as ITK/DICOM use).
TARGET_AXES = (np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))


@dataclass(frozen=True)
class Grid:
    """A voxel grid in physical space: sizes, spacings and origin in (x, y, z) array-axis order,
    ``direction`` row-major 3x3 with the axis directions as columns."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]


def grid_of(image: sitk.Image) -> Grid:
    """The grid of a 3-D SimpleITK image."""
    return Grid(
        size=tuple(int(v) for v in image.GetSize()),
        spacing=tuple(float(v) for v in image.GetSpacing()),
        origin=tuple(float(v) for v in image.GetOrigin()),
        direction=tuple(float(v) for v in image.GetDirection()),
    )


def canonical_grid(grid: Grid) -> Grid:
    """The same voxels with the in-plane axes permuted/flipped to the canonical orientation.

    The slice axis (the third) keeps its direction, spacing and size; the origin moves to the
    corner voxel that becomes index (0, 0, z).
    """
    matrix = np.asarray(grid.direction, dtype=float).reshape(3, 3)
    best: tuple[float, tuple[int, int], tuple[int, int]] | None = None
    for order in ((0, 1), (1, 0)):
        for signs in itertools.product((1, -1), repeat=2):
            score = sum(signs[a] * float(matrix[:, order[a]] @ TARGET_AXES[a]) for a in range(2))
            if best is None or score > best[0] + 1e-9:
                best = (score, order, signs)
    assert best is not None
    _, order, signs = best
    columns = [signs[a] * matrix[:, order[a]] for a in range(2)] + [matrix[:, 2]]
    size = (grid.size[order[0]], grid.size[order[1]], grid.size[2])
    spacing = (grid.spacing[order[0]], grid.spacing[order[1]], grid.spacing[2])
    origin = np.asarray(grid.origin, dtype=float)
    for a in range(2):
        if signs[a] < 0:  # start from the far end of that original axis
            axis = order[a]
            origin = origin + matrix[:, axis] * grid.spacing[axis] * (grid.size[axis] - 1)
    return Grid(
        size=tuple(int(v) for v in size),
        spacing=tuple(float(v) for v in spacing),
        origin=tuple(float(v) for v in origin),
        direction=tuple(float(v) for v in np.column_stack(columns).ravel()),
    )
