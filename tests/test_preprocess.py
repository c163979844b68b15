"""Resampling, normalisation, crop/pad and the label round trip back to the original grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from dmr.datasets.case import Case, Frame
from dmr.errors import DatasetError
from dmr.preprocess import (
    PreprocessParams,
    normalise_intensities,
    preprocess_dataset,
    preprocess_label,
    preprocess_volume,
    restore_labels,
)
from dmr.preprocess.distance import class_distance_maps

SPACING = (1.3, 1.7, 8.0)  # anisotropic in-plane, thick slices (ACDC-like)
ANGLE = 0.4
DIRECTION = (np.cos(ANGLE), -np.sin(ANGLE), 0, np.sin(ANGLE), np.cos(ANGLE), 0, 0, 0, -1)


def _heart_array(
    shape_zyx: tuple[int, int, int] = (6, 76, 92), spacing: tuple[float, ...] = SPACING
) -> np.ndarray:
    """RV (1), myocardium ring (2) and LV cavity (3) drawn in mm, shrinking towards the apex
    (the last slice is beyond the apex and empty; the RV stops two slices short of it)."""
    z_size, y_size, x_size = shape_zyx
    y_mm, x_mm = np.mgrid[:y_size, :x_size] * np.array(spacing[1::-1])[:, None, None]
    centre_y, centre_x = y_mm.mean(), x_mm.mean()
    label = np.zeros(shape_zyx, np.uint8)
    for z in range(z_size - 1):
        shrink = 1.0 - 0.07 * z
        lv_r2 = (y_mm - centre_y) ** 2 + (x_mm - centre_x) ** 2
        label[z][lv_r2 <= (26 * shrink) ** 2] = 2
        label[z][lv_r2 <= (18 * shrink) ** 2] = 3
        if z < z_size - 3:
            rv_r2 = (y_mm - centre_y) ** 2 + (x_mm - centre_x + 38) ** 2
            label[z][(rv_r2 <= (13 * shrink) ** 2) & (label[z] == 0)] = 1
    return label


def _image(array: np.ndarray, spacing=SPACING, direction=DIRECTION) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin((-12.0, 30.0, 7.5))
    image.SetDirection([float(d) for d in direction])
    return image


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_output_grid_pads_x_and_crops_y() -> None:
    # 92 x 76 px at 1.3 x 1.7 mm = 119.6 x 129.2 mm -> 80 x 86 px at 1.5 mm.
    label = _image(_heart_array())
    params = PreprocessParams(spacing=1.5, size=84, clip_percentile=99.0)
    image, geometry = preprocess_volume(sitk.Cast(label, sitk.sitkFloat32) * 50.0, params)
    assert image.shape == (6, 84, 84) and image.dtype == np.float32
    assert geometry.resampled_size == (80, 86, 6)
    assert geometry.resampled_spacing == (1.5, 1.5, 8.0)
    assert geometry.crop_offset == (-2, 1)  # pad 2 columns first, crop 1 row first
    # Padded columns hold exactly 0 (the volume mean after z-scoring); cropped rows do not.
    assert (image[:, :, :2] == 0).all() and (image[:, :, -2:] == 0).all()
    assert not (image[:, :, 2:-2] == 0).all(axis=(0, 2)).any()


def test_same_spacing_and_size_is_the_identity_resampling() -> None:
    rng = np.random.default_rng(0)
    array = rng.uniform(0, 100, (3, 20, 24)).astype(np.float32)
    image = _image(array, spacing=(1.5, 1.5, 5.0))
    out, geometry = preprocess_volume(image, PreprocessParams(1.5, 24, 100.0))
    assert geometry.crop_offset == (0, -2)
    expected = (array - array.mean()) / array.std()
    np.testing.assert_allclose(out[:, 2:22, :], expected, atol=1e-4)


def test_clip_and_zscore_statistics() -> None:
    rng = np.random.default_rng(1)
    volume = rng.normal(100, 10, (4, 30, 30))
    volume[0, 0, :20] = 5000  # bright artefacts above the 99th percentile
    out = normalise_intensities(volume, 99.0)
    assert out.dtype == np.float32
    assert out.mean() == pytest.approx(0, abs=1e-5) and out.std() == pytest.approx(1, abs=1e-5)
    clipped = np.minimum(volume, np.percentile(volume, 99.0))
    assert out.max() == pytest.approx((clipped.max() - clipped.mean()) / clipped.std(), rel=1e-5)
    assert out.max() < 4  # the artefacts no longer dominate the scale
    with pytest.raises(ValueError, match="constant"):
        normalise_intensities(np.ones((2, 3, 3)), 99.0)


def test_whole_volume_statistics_without_crop_or_pad() -> None:
    rng = np.random.default_rng(2)
    image = _image(rng.gamma(2.0, 50.0, (3, 40, 30)).astype(np.float32), spacing=(1.5, 1.5, 8))
    out, _ = preprocess_volume(image, PreprocessParams(1.5, 35, 99.0))  # crops y 40 -> 35
    full, _ = preprocess_volume(image, PreprocessParams(1.5, 40, 99.0))  # pads x 30 -> 40
    # Statistics come from the whole resampled volume, not from the crop.
    np.testing.assert_allclose(out, full[:, 2:37, 2:37], atol=1e-6)
    assert full[:, :, 5:35].mean() == pytest.approx(0, abs=1e-4)
    assert full[:, :, 5:35].std() == pytest.approx(1, abs=1e-4)


def test_label_round_trip_reproduces_the_original_labels() -> None:
    array = _heart_array()
    label = _image(array)
    params = PreprocessParams(spacing=1.5, size=84, clip_percentile=99.0)
    image, geometry = preprocess_volume(sitk.Cast(label, sitk.sitkFloat32) * 50.0, params)
    network_labels = preprocess_label(label, geometry)
    assert network_labels.shape == image.shape and network_labels.dtype == np.uint8
    # Image and labels share the grid: labelled pixels are the bright ones.
    assert ((image > image.mean()) == (network_labels > 0)).mean() > 0.97
    restored = restore_labels(network_labels, geometry)
    assert restored.GetSize() == label.GetSize()
    assert restored.GetPixelID() == sitk.sitkUInt8
    np.testing.assert_allclose(restored.GetSpacing(), label.GetSpacing())
    np.testing.assert_allclose(restored.GetOrigin(), label.GetOrigin())
    np.testing.assert_allclose(restored.GetDirection(), label.GetDirection())
    restored_array = sitk.GetArrayFromImage(restored)
    for structure in (1, 2, 3):
        assert _dice(restored_array == structure, array == structure) > 0.95, structure


def test_shape_and_geometry_errors() -> None:
    params = PreprocessParams(1.5, 16, 99.0)
    with pytest.raises(ValueError, match="3-D"):
        preprocess_volume(sitk.Image([10, 10], sitk.sitkFloat32), params)
    image = _image(np.random.default_rng(0).random((2, 12, 12)).astype(np.float32))
    _, geometry = preprocess_volume(image, params)
    with pytest.raises(ValueError, match="label size"):
        preprocess_label(sitk.Image([12, 11, 2], sitk.sitkUInt8), geometry)
    with pytest.raises(ValueError, match="shape"):
        restore_labels(np.zeros((2, 15, 16), np.uint8), geometry)
    with pytest.raises(ValueError, match="clip_percentile"):
        PreprocessParams(1.5, 16, 0.0)


# --------------------------------------------------------------------------- dataset driver
def _fake_case(case_id: str, group: str | None, fmt: str, tmp_path: Path, values=None) -> Case:
    array = _heart_array()
    if values is not None:
        array = values[array]

    def load(frame: int) -> Frame:
        shrunk = array if frame == 1 else np.where(array == 3, 2, array).astype(np.uint8)
        label = _image(shrunk.astype(np.uint8))
        image = sitk.Cast(label, sitk.sitkInt16) * 40 + 10
        return Frame(frame=frame, image=image, label=label)

    return Case(
        case_id=case_id,
        dataset_format=fmt,
        group=group,
        ed_frame=1,
        es_frame=3,
        n_frames=4,
        labelled_frames=(1, 3, 4),
        path=tmp_path / case_id,
        loader=load,
    )


def _use_cases(monkeypatch: pytest.MonkeyPatch, cases: list[Case]) -> None:
    import dmr.datasets

    monkeypatch.setattr(dmr.datasets, "read_dataset", lambda fmt, root, **options: cases)


def test_preprocess_dataset_writes_the_documented_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        _fake_case("p001", "NOR", "acdc", tmp_path),
        _fake_case("p002", "DCM", "acdc", tmp_path),
    ]
    _use_cases(monkeypatch, cases)
    out = tmp_path / "pre"
    preprocess_dataset(
        "acdc", tmp_path, out, spacing=3.0, size=44, clip_percentile=99.0, frames="ed_es"
    )
    images = np.load(out / "images.npy", mmap_mode="r")
    labels = np.load(out / "labels.npy", mmap_mode="r")
    distmaps = np.load(out / "distmaps.npy", mmap_mode="r")
    assert images.shape == (24, 44, 44) and images.dtype == np.float32
    assert labels.shape == (24, 44, 44) and labels.dtype == np.uint8
    assert distmaps.shape == (24, 3, 44, 44) and distmaps.dtype == np.float16
    slices = pd.read_csv(out / "slices.csv", keep_default_na=False)
    assert list(slices.columns) == [
        "index", "case", "group", "frame", "phase", "slice",
        "n_slices", "has_foreground", "region",
    ]  # fmt: skip
    assert list(slices.phase[:12]) == ["ED"] * 6 + ["ES"] * 6
    assert list(slices.slice[:7]) == [0, 1, 2, 3, 4, 5, 0]
    # 5 foreground slices: quarter = round(1.25) = 1; the empty last slice is beyond the apex.
    assert list(slices.region[:6]) == ["basal", "mid", "mid", "mid", "apical", "apical"]
    assert list(slices.has_foreground[:6]) == [True] * 5 + [False]
    for i in (0, 7, 13):
        expected = class_distance_maps(np.asarray(labels[i]), 4, np.inf).astype(np.float16)
        np.testing.assert_array_equal(distmaps[i], expected)
    assert np.isneginf(distmaps[5]).all()  # beyond the apex: no structure
    assert set(np.unique(labels[6:12])) == {0, 1, 2}  # the ES frame has no LV cavity (class 3)
    case_table = pd.read_csv(out / "cases.csv")
    assert list(case_table.columns) == ["case", "group", "n_frames", "ed_frame", "es_frame"]
    assert list(case_table.group) == ["NOR", "DCM"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["label_values"] == [0, 1, 2, 3] and meta["num_classes"] == 4
    assert meta["n_slices"] == 24 and meta["size"] == 44 and meta["frames"] == "ed_es"
    assert not (out / "chunks").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_preprocess_dataset_all_frames_and_lvsc_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_myocardium = np.array([0, 0, 2, 0], np.uint8)
    _use_cases(monkeypatch, [_fake_case("DET01", None, "lvsc", tmp_path, only_myocardium)])
    out = tmp_path / "pre"
    preprocess_dataset(
        "lvsc", tmp_path, out, spacing=3.0, size=40, clip_percentile=99.0, frames="all"
    )
    slices = pd.read_csv(out / "slices.csv", keep_default_na=False)
    assert list(slices.frame.unique()) == [1, 3, 4]
    assert list(slices.phase[::6]) == ["ED", "ES", ""]
    assert (slices.group == "").all()
    labels = np.load(out / "labels.npy")
    assert set(np.unique(labels)) == {0, 1}  # myocardium (label 2) is class 1
    assert np.load(out / "distmaps.npy").shape == (18, 1, 40, 40)
    assert json.loads((out / "meta.json").read_text())["label_values"] == [0, 2]


def test_preprocess_dataset_rejects_labels_outside_the_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_cases(monkeypatch, [_fake_case("DET02", None, "lvsc", tmp_path)])  # has RV and LV labels
    out = tmp_path / "pre"
    with pytest.raises(DatasetError, match=r"DET02.*label values"):
        preprocess_dataset("lvsc", tmp_path, out, spacing=3.0, size=40, clip_percentile=99.0)
    assert not out.exists()
