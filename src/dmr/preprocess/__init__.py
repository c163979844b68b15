"""Resample, normalise and crop/pad short-axis volumes onto the network's slice grid (paper II.E).

Per volume, in this order:

0. take the volume's grid in the canonical in-plane orientation
   (:mod:`dmr.preprocess.orientation`: the same voxels with the in-plane axes permuted/flipped
   towards the patient's +x/+y), so that every format and storage order gives the network the
   same view of the same anatomy;
1. resample in-plane to ``spacing`` mm with linear interpolation (``sitk.Resample``); the slice
   thickness, the number of slices and the (canonical) direction are kept, and the in-plane field
   of view (pixel edges) is kept too: the origin moves by half the change of pixel size, so that
   the new grid is centred on the old one instead of drifting by up to half a pixel;
2. clip intensities at the ``clip_percentile`` percentile (upper tail: bright fat and flow
   artefacts) and z-score them, both with statistics of the whole resampled volume, so that the
   normalisation does not depend on the crop size;
3. centre crop / zero-pad in x and y to ``size`` pixels. Padding after z-scoring pads with the
   volume's mean intensity, as a network sees it.

Labels are resampled with nearest neighbour directly onto the final (cropped/padded) grid, which
samples exactly the same physical points. :func:`restore_labels` maps network-grid predictions
back onto the original grid.

The preprocessing stage package holds everything between a dataset's cases and the slices a
network trains on: ``volume`` (``PreprocessParams``, ``SliceGeometry`` and the per-volume steps:
resampling, intensity normalisation, crop/pad, the label round trip), ``dataset``
(``preprocess_dataset``: every case of a raw dataset into the slice folder, with its slice and
case tables), ``orientation`` (step 0), ``distance`` (the regularizer's targets, paper Eq. 2),
``augment`` (the paper's similarity-transform copies), ``folds`` (the K-fold manifests),
``regions`` (apical / mid / basal slices) and ``npy`` (bounded-memory streaming of the arrays).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dmr.preprocess.dataset import CASE_COLUMNS, SLICE_COLUMNS, preprocess_dataset
    from dmr.preprocess.distance import class_distance_maps, truncated_signed_distance
    from dmr.preprocess.volume import (
        PreprocessParams,
        SliceGeometry,
        crop_or_pad,
        normalise_intensities,
        preprocess_label,
        preprocess_volume,
        restore_labels,
    )

#: Names imported on first use (PEP 562), so that the light modules of this package (``folds``,
#: ``regions``, ``npy``), which scoring and training import, do not load SimpleITK and the readers.
_LAZY_EXPORTS = {
    **dict.fromkeys(["CASE_COLUMNS", "SLICE_COLUMNS", "preprocess_dataset"], "dataset"),
    **dict.fromkeys(["class_distance_maps", "truncated_signed_distance"], "distance"),
    **dict.fromkeys(
        [
            "PreprocessParams",
            "SliceGeometry",
            "crop_or_pad",
            "normalise_intensities",
            "preprocess_label",
            "preprocess_volume",
            "restore_labels",
        ],
        "volume",
    ),
}

__all__ = [
    "CASE_COLUMNS",
    "SLICE_COLUMNS",
    "PreprocessParams",
    "SliceGeometry",
    "class_distance_maps",
    "crop_or_pad",
    "normalise_intensities",
    "preprocess_dataset",
    "preprocess_label",
    "preprocess_volume",
    "restore_labels",
    "truncated_signed_distance",
]


def __getattr__(name: str) -> object:
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
