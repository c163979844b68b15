"""Orientation: a stack stored transposed or mirrored is segmented identically on its own grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from dmr.datasets import read_dataset
from dmr.inference.bundle import load_models
from dmr.inference.predict import Predictor
from dmr.models import build_model
from dmr.preprocess.orientation import Grid, canonical_grid, grid_of
from dmr.train.checkpoint import save_checkpoint


def stored_differently(image: sitk.Image, transpose: bool, flips: tuple[bool, bool]) -> sitk.Image:
    """The same voxels in space, stored with the in-plane axes swapped and/or reversed."""
    array = sitk.GetArrayFromImage(image)  # (z, y, x)
    matrix = np.asarray(image.GetDirection()).reshape(3, 3)
    spacing = np.asarray(image.GetSpacing())
    size = np.asarray(image.GetSize())
    origin = np.asarray(image.GetOrigin())
    order = [1, 0, 2] if transpose else [0, 1, 2]
    if transpose:
        array = np.swapaxes(array, 1, 2)
    columns = [matrix[:, order[a]].copy() for a in range(3)]
    for a, flip in enumerate(flips):
        if flip:
            axis = order[a]
            origin = origin + matrix[:, axis] * spacing[axis] * (size[axis] - 1)
            columns[a] = -columns[a]
            array = np.flip(array, axis=2 - a)
    out = sitk.GetImageFromArray(np.ascontiguousarray(array))
    out.SetSpacing(tuple(float(spacing[i]) for i in order))
    out.SetOrigin(tuple(float(v) for v in origin))
    out.SetDirection(tuple(float(v) for v in np.column_stack(columns).ravel()))
    return out


def back_to_original_storage(
    array: np.ndarray, transpose: bool, flips: tuple[bool, bool]
) -> np.ndarray:
    for a, flip in reversed(list(enumerate(flips))):
        if flip:
            array = np.flip(array, axis=2 - a)
    return np.swapaxes(array, 1, 2) if transpose else array


VARIANTS = [
    (False, (True, False)),  # mirrored in x
    (False, (False, True)),  # mirrored in y
    (True, (False, False)),  # transposed
    (True, (True, True)),  # transposed and rotated by 180 degrees
]


@pytest.fixture(scope="module")
def lvsc_frame(lvsc_root: Path) -> sitk.Image:
    case = read_dataset("lvsc", lvsc_root)[0]
    return case.load_phase("ED").image


@pytest.mark.parametrize(("transpose", "flips"), VARIANTS)
def test_stored_twins_share_one_canonical_grid(lvsc_frame, transpose, flips):
    twin = stored_differently(lvsc_frame, transpose, flips)
    # the twin is the same volume in space ...
    index = (3, 5, 1)
    point = lvsc_frame.TransformIndexToPhysicalPoint(index)
    assert twin.GetPixel(twin.TransformPhysicalPointToIndex(point)) == lvsc_frame.GetPixel(index)
    # ... and both are sliced on the same canonical grid
    a, b = canonical_grid(grid_of(lvsc_frame)), canonical_grid(grid_of(twin))
    assert a.size == b.size
    np.testing.assert_allclose(a.spacing, b.spacing)
    np.testing.assert_allclose(a.origin, b.origin, atol=1e-9)
    np.testing.assert_allclose(a.direction, b.direction, atol=1e-12)


def test_canonical_axes_point_towards_patient_x_and_y():
    # In-plane axes stored as (-y, +x): the canonical grid swaps them back to (+x, +y).
    grid = Grid((10, 20, 3), (1.0, 2.0, 8.0), (0.0, 0.0, 0.0), (0, 1, 0, -1, 0, 0, 0, 0, 1))
    canonical = canonical_grid(grid)
    np.testing.assert_allclose(np.reshape(canonical.direction, (3, 3)), np.eye(3), atol=1e-12)
    assert canonical.size == (20, 10, 3) and canonical.spacing == (2.0, 1.0, 8.0)
    # the first canonical voxel is the stored voxel (9, 0, 0), at 9 x 1.0 mm along -y
    np.testing.assert_allclose(canonical.origin, (0.0, -9.0, 0.0), atol=1e-12)


def random_model(tmp_path: Path) -> Path:
    """A U-Net with seeded random weights: deterministic, spatially varying, not symmetric."""
    torch.manual_seed(0)
    network = build_model("unet", regularized=False, num_classes=2, width=4)
    bundle = {
        "kind": "model",
        "format_version": 1,
        "model_config": network.config.to_dict(),
        "state_dict": network.state_dict(),
        "preprocess": {"spacing": 4.0, "size": 32, "clip_percentile": 99.0},
        "structures": ["myo"],
        "label_values": [0, 2],
        "model_name": "unet-base",
        "dataset": "lvsc",
        "fold": 0,
    }
    save_checkpoint(tmp_path / "model.pt", bundle)
    return tmp_path / "model.pt"


@pytest.mark.parametrize(("transpose", "flips"), VARIANTS)
def test_mirrored_or_transposed_stack_gets_the_same_segmentation(
    lvsc_frame, tmp_path, transpose, flips
):
    torch.set_num_threads(1)
    predictor = Predictor(load_models([random_model(tmp_path)]))
    reference = sitk.GetArrayFromImage(predictor.predict_volume(lvsc_frame))
    assert len(np.unique(reference)) == 2  # a real, non-constant segmentation
    twin = stored_differently(lvsc_frame, transpose, flips)
    twin_labels = predictor.predict_volume(twin)
    assert twin_labels.GetSize() == twin.GetSize()  # on the twin's own grid
    np.testing.assert_allclose(twin_labels.GetOrigin(), twin.GetOrigin())
    mapped = back_to_original_storage(sitk.GetArrayFromImage(twin_labels), transpose, flips)
    np.testing.assert_array_equal(mapped, reference)


def test_the_network_itself_is_not_flip_invariant(lvsc_frame, tmp_path):
    """Without the canonical grid, a mirrored array would be segmented differently."""
    torch.set_num_threads(1)
    predictor = Predictor(load_models([random_model(tmp_path)]))
    slices, _ = predictor.preprocess(lvsc_frame)
    direct = predictor.segment(slices)
    mirrored = predictor.segment(np.ascontiguousarray(slices[:, :, ::-1]))[:, :, ::-1]
    assert not np.array_equal(direct, mirrored)
