"""Metric kernels against closed-form answers and against medpy (the reference implementation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from medpy.metric import binary as medpy_binary
from scipy import ndimage

from dmr.evaluation import metrics


def _sphere(shape: tuple[int, ...], centre: tuple[float, ...], radius: float) -> np.ndarray:
    grids = np.indices(shape)
    squared = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
    return squared <= radius**2


def _random_blob(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=1.5)
    return noise > 0.05


# --------------------------------------------------------------------------- overlap
def test_dice_and_jaccard_known_counts() -> None:
    a = np.zeros((4, 4, 4), bool)
    b = np.zeros((4, 4, 4), bool)
    a[0, :2, :2] = True  # 4 voxels
    b[0, :2, :] = True  # 8 voxels, 4 shared
    assert metrics.dice(a, b) == pytest.approx(2 * 4 / 12)
    assert metrics.jaccard(a, b) == pytest.approx(4 / 8)


def test_empty_mask_policy() -> None:
    empty = np.zeros((5, 6, 7), bool)
    full = empty.copy()
    full[2, 2:4, 2:4] = True
    spacing = (2.0, 1.0, 1.0)
    assert metrics.dice(empty, empty) == 1.0
    assert metrics.jaccard(empty, empty) == 1.0
    assert metrics.msd(empty, empty, spacing) == 0.0
    assert metrics.hausdorff(empty, empty, spacing) == 0.0
    for a, b in ((empty, full), (full, empty)):
        assert metrics.dice(a, b) == 0.0
        assert metrics.jaccard(a, b) == 0.0
        assert math.isnan(metrics.msd(a, b, spacing))
        assert math.isnan(metrics.hausdorff(a, b, spacing))
    assert metrics.directed_surface_distances(empty, full, spacing).size == 0
    with pytest.raises(ValueError, match="empty"):
        metrics.directed_surface_distances(full, empty, spacing)


# --------------------------------------------------------------------------- surfaces
def test_surface_is_mask_minus_face_connected_erosion_with_background_border() -> None:
    cube = np.ones((3, 3, 3), bool)  # fills the array: border counts as background
    surf = metrics.surface(cube)
    assert surf.sum() == 26 and not surf[1, 1, 1]
    plus = np.zeros((5, 5, 5), bool)
    plus[1:4, 1:4, 1:4] = True
    # Face-connected erosion of a 3x3x3 cube leaves only the centre voxel.
    assert metrics.surface(plus).sum() == 26


@pytest.mark.parametrize(("axis", "shift"), [(0, 1), (1, 2), (2, 3)])
def test_shifted_cuboids_hausdorff_is_shift_in_mm(axis: int, shift: int) -> None:
    # A cuboid's face voxel far from its edges is exactly `shift` voxels from the moved face and
    # farther from every other face, so HD = shift x spacing of the shifted axis.
    shape = (12, 30, 30)
    spacing = (5.0, 0.5, 0.75)
    a = np.zeros(shape, bool)
    a[3:8, 5:22, 6:20] = True
    b = np.roll(a, shift, axis=axis)
    assert metrics.hausdorff(a, b, spacing) == pytest.approx(shift * spacing[axis])
    assert 0 < metrics.msd(a, b, spacing) < shift * spacing[axis]
    # Isotropic spacing gives the shift in voxels.
    assert metrics.hausdorff(a, b, (1.0, 1.0, 1.0)) == pytest.approx(shift)


def test_shifted_spheres_anisotropic_spacing_scales_distances() -> None:
    shape = (16, 16, 16)
    a = _sphere(shape, (7.5, 7.5, 7.5), 5)
    b = _sphere(shape, (7.5, 7.5, 9.5), 5)  # offset by 2 voxels along the last axis
    assert metrics.hausdorff(a, b, (1.0, 1.0, 1.0)) == pytest.approx(2.0)
    # Scaling every axis scales every distance.
    assert metrics.msd(a, b, (2.0, 2.0, 2.0)) == pytest.approx(2 * metrics.msd(a, b, (1, 1, 1)))
    # Stretching the axis of the offset lengthens HD to the offset in mm.
    assert metrics.hausdorff(a, b, (1.0, 1.0, 3.0)) == pytest.approx(6.0)


def test_single_slice_slabs_closed_form() -> None:
    # One slice thick: face-connected erosion removes everything, so the whole mask is surface.
    a = np.zeros((1, 40, 20), bool)
    b = np.zeros_like(a)
    a[0, :, 5:15] = True  # 400 voxels
    b[0, :, 6:15] = True  # a minus its first column (40 voxels at 0.8 mm from b)
    spacing = (3.0, 1.0, 0.8)
    assert metrics.hausdorff(a, b, spacing) == pytest.approx(0.8)
    assert metrics.msd(a, b, spacing) == pytest.approx(0.5 * (40 * 0.8 / 400 + 0.0))


def test_msd_is_mean_of_directed_means_not_pooled_assd() -> None:
    a = np.zeros((1, 30, 30), bool)
    a[0, 5:25, 5:25] = True
    b = np.zeros_like(a)
    b[0, 12:15, 12:15] = True  # small surface far inside a
    spacing = (1.0, 1.0, 1.0)
    a_to_b = metrics.directed_surface_distances(a, b, spacing)
    b_to_a = metrics.directed_surface_distances(b, a, spacing)
    expected = 0.5 * (a_to_b.mean() + b_to_a.mean())
    pooled = np.concatenate([a_to_b, b_to_a]).mean()
    assert metrics.msd(a, b, spacing) == pytest.approx(expected)
    assert not math.isclose(expected, pooled)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_medpy_on_random_blobs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (9, 24, 20)
    spacing = (7.5, 1.3, 0.9)
    a = _random_blob(rng, shape)
    b = _random_blob(rng, shape)
    assert a.any() and b.any()
    ours_ab = np.sort(metrics.directed_surface_distances(a, b, spacing))
    medpy_ab = np.sort(medpy_binary.__surface_distances(a, b, spacing, 1))
    np.testing.assert_allclose(ours_ab, medpy_ab)
    assert metrics.hausdorff(a, b, spacing) == pytest.approx(medpy_binary.hd(a, b, spacing, 1))
    expected_msd = 0.5 * (medpy_binary.asd(a, b, spacing, 1) + medpy_binary.asd(b, a, spacing, 1))
    assert metrics.msd(a, b, spacing) == pytest.approx(expected_msd)
    assert metrics.dice(a, b) == pytest.approx(medpy_binary.dc(a, b))
    assert metrics.jaccard(a, b) == pytest.approx(medpy_binary.jc(a, b))


def test_crop_is_exact_for_small_objects_touching_the_border() -> None:
    shape = (6, 40, 40)
    spacing = (4.0, 1.1, 0.7)
    a = np.zeros(shape, bool)
    b = np.zeros(shape, bool)
    a[0:3, 0:5, 0:6] = True  # touches three array borders
    b[2:6, 3:9, 30:40] = True
    np.testing.assert_allclose(
        np.sort(metrics.directed_surface_distances(a, b, spacing)),
        np.sort(medpy_binary.__surface_distances(a, b, spacing, 1)),
    )
    assert metrics.hausdorff(a, b, spacing) == pytest.approx(medpy_binary.hd(a, b, spacing, 1))


def test_input_validation_names_observed_values() -> None:
    a = np.zeros((3, 4, 5), bool)
    with pytest.raises(ValueError, match=r"\(3, 4, 5\).*\(3, 4, 6\)"):
        metrics.dice(a, np.zeros((3, 4, 6), bool))
    with pytest.raises(ValueError, match="3 values"):
        metrics.msd(a, a, (1.0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        metrics.hausdorff(a, a, (1.0, 0.0, 1.0))


# --------------------------------------------------------------------------- label maps
def test_structure_metrics_volumes_and_policy() -> None:
    gt = np.zeros((4, 10, 10), np.uint8)
    pred = np.zeros_like(gt)
    gt[1:3, 2:6, 2:6] = 3  # 32 voxels LV
    pred[1:3, 2:6, 2:7] = 3  # 40 voxels LV
    gt[1, 7:9, 7:9] = 2  # myocardium only in the reference
    spacing = (10.0, 1.5, 1.5)  # 22.5 mm^3 per voxel
    rows = {
        r["structure"]: r for r in metrics.structure_metrics(gt, pred, spacing, ["rv", "myo", "lv"])
    }
    assert rows["lv"]["volume_gt_ml"] == pytest.approx(32 * 22.5 / 1000)
    assert rows["lv"]["volume_pred_ml"] == pytest.approx(40 * 22.5 / 1000)
    assert rows["lv"]["dice"] == pytest.approx(2 * 32 / 72)
    assert rows["lv"]["hd_mm"] == pytest.approx(1.5)
    assert rows["rv"]["dice"] == 1.0 and rows["rv"]["hd_mm"] == 0.0
    assert rows["myo"]["dice"] == 0.0 and math.isnan(rows["myo"]["msd_mm"])
    with pytest.raises(ValueError, match="unknown structure"):
        metrics.structure_metrics(gt, pred, spacing, ["aorta"])


def test_slice_confusion_counts() -> None:
    gt = np.zeros((3, 4, 4), np.uint8)
    pred = np.zeros_like(gt)
    gt[0, :2, :2] = 2
    pred[0, :2, :1] = 2
    pred[1, 0, 0] = 2
    rows = metrics.slice_confusion(gt, pred, 2)
    assert [r["slice"] for r in rows] == [0, 1, 2]
    assert (rows[0]["tp"], rows[0]["fp"], rows[0]["fn"], rows[0]["tn"]) == (2, 0, 2, 12)
    assert rows[0]["dice"] == pytest.approx(4 / 6)
    assert (rows[1]["tp"], rows[1]["fp"], rows[1]["fn"]) == (0, 1, 0) and rows[1]["dice"] == 0.0
    assert rows[2]["dice"] == 1.0 and rows[2]["tn"] == 16
