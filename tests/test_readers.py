"""ACDC and LVSC readers on phantoms written in the real on-disk layouts (see conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from dmr.datasets import read_dataset
from dmr.datasets.phantom import generate_dataset
from dmr.errors import DatasetError
from dmr.labels import LABEL_VALUES, LV_MYOCARDIUM


def _same_geometry(a: sitk.Image, b: sitk.Image, atol: float = 1e-6) -> bool:
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=atol)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=atol)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=atol)
    )


def _listing(cases: list) -> list[tuple]:
    """What a listing says about each case, independent of where the folder lives."""
    return [
        (c.case_id, c.group, c.ed_frame, c.es_frame, c.n_frames, c.labelled_frames, dict(c.info))
        for c in cases
    ]


def _info_cfg(case_dir: Path) -> dict[str, str]:
    lines = (case_dir / "Info.cfg").read_text().splitlines()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}


# --------------------------------------------------------------------------- ACDC
def test_acdc_cases_sorted_with_metadata_from_info_cfg(acdc_root: Path) -> None:
    cases = read_dataset("acdc", acdc_root)
    assert [c.case_id for c in cases] == ["patient001", "patient002"]
    for case in cases:
        info = _info_cfg(case.path)
        assert (case.ed_frame, case.es_frame) == (int(info["ED"]), int(info["ES"]))
        assert case.n_frames == int(info["NbFrame"])
        assert case.group == info["Group"]
        assert case.info["Height"] == info["Height"] and case.info["Weight"] == info["Weight"]
        assert case.labelled_frames == tuple(sorted({case.ed_frame, case.es_frame}))
        assert case.cine_path == case.path / f"{case.case_id}_4d.nii.gz"


def test_acdc_label_on_image_grid_with_project_values(acdc_root: Path) -> None:
    for case in read_dataset("acdc", acdc_root):
        for phase in ("ED", "ES"):
            frame = case.load_phase(phase)
            assert frame.frame == case.frame_of(phase)
            assert frame.label is not None
            assert frame.label.GetPixelID() == sitk.sitkUInt8
            assert frame.label.GetSize() == frame.image.GetSize()
            assert frame.label.GetSpacing() == frame.image.GetSpacing()
            assert frame.label.GetOrigin() == frame.image.GetOrigin()
            assert frame.label.GetDirection() == frame.image.GetDirection()
            values = set(np.unique(sitk.GetArrayViewFromImage(frame.label)).tolist())
            assert values <= set(LABEL_VALUES)
            assert {1, 2, 3} <= values  # the heart is in the field of view


def test_acdc_frame_from_cine_keeps_geometry(acdc_copy: Path) -> None:
    case_dir = acdc_copy / "training" / "patient001"
    frame_file = case_dir / "patient001_frame01.nii.gz"
    expected = sitk.ReadImage(str(frame_file))
    frame_file.unlink()  # ED must now come out of the (oblique) 4-D cine
    case = read_dataset("acdc", acdc_copy)[0]
    frame = case.load_phase("ED")
    assert frame.image.GetDimension() == 3
    assert _same_geometry(frame.image, expected)
    np.testing.assert_array_equal(
        sitk.GetArrayViewFromImage(frame.image), sitk.GetArrayViewFromImage(expected)
    )
    assert frame.label is not None and _same_geometry(frame.label, frame.image)
    middle = next(f for f in range(1, case.n_frames + 1) if f not in case.labelled_frames)
    unlabelled = case.load_frame(middle)
    assert unlabelled.label is None
    cine = sitk.ReadImage(str(case.cine_path))
    np.testing.assert_array_equal(
        sitk.GetArrayViewFromImage(unlabelled.image), sitk.GetArrayViewFromImage(cine)[middle - 1]
    )


def test_acdc_testing_split_with_and_without_references(acdc_copy: Path) -> None:
    (case,) = read_dataset("acdc", acdc_copy, split="testing")
    assert case.case_id == "patient003" and case.group is not None
    assert case.labelled_frames == (case.ed_frame, case.es_frame)
    assert case.load_phase("ES").label is not None
    # the challenge's original testing release had no references: read, unlabelled
    for gt in (acdc_copy / "testing" / "patient003").glob("*_gt.nii.gz"):
        gt.unlink()
    (case,) = read_dataset("acdc", acdc_copy, split="testing")
    assert case.labelled_frames == ()
    assert case.load_phase("ES").label is None


@pytest.mark.parametrize("dtype", ["int16", "float32"])
def test_acdc_keeps_stored_pixel_type(tmp_path: Path, tiny_domain: dict, dtype: str) -> None:
    root = tmp_path / "acdc"
    generate_dataset("acdc", root, n_cases=1, seed=1, domain={**tiny_domain, "dtypes": [dtype]})
    frame = read_dataset("acdc", root)[0].load_phase("ED")
    expected = {"int16": sitk.sitkInt16, "float32": sitk.sitkFloat32}[dtype]
    assert frame.image.GetPixelID() == expected
    assert frame.label is not None and frame.label.GetPixelID() == sitk.sitkUInt8


def test_acdc_ignores_extra_files_and_reads_unpadded_indices(
    acdc_root: Path, acdc_copy: Path
) -> None:
    (acdc_copy / ".DS_Store").write_bytes(b"\0\1")
    (acdc_copy / "training" / "notes.txt").write_text("stray")
    (acdc_copy / "training" / "patient001_old").mkdir()
    case_dir = acdc_copy / "training" / "patient001"
    (case_dir / ".DS_Store").write_bytes(b"\0")
    (case_dir / "patient001_frame01.nii.gz.bak").write_bytes(b"junk")
    for name in ("patient001_frame01.nii.gz", "patient001_frame01_gt.nii.gz"):
        (case_dir / name).rename(case_dir / name.replace("frame01", "frame1"))
    original, modified = read_dataset("acdc", acdc_root), read_dataset("acdc", acdc_copy)
    assert _listing(original) == _listing(modified)
    a, b = original[0].load_phase("ED"), modified[0].load_phase("ED")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a.label), sitk.GetArrayFromImage(b.label))


def test_acdc_missing_root_says_where_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as excinfo:
        read_dataset("acdc", tmp_path / "nowhere")
    message = str(excinfo.value)
    assert "humanheart-project.creatis.insa-lyon.fr" in message
    assert str(tmp_path / "nowhere" / "training" / "patient001") in message


# --------------------------------------------------------------------------- LVSC
def _dicom_files(study: Path, phase: int) -> list[Path]:
    return [p for p in study.iterdir() if p.suffix.lower() == ".dcm" and f"_ph{phase}." in p.name]


def test_lvsc_volume_stacked_by_position_along_normal(lvsc_root: Path) -> None:
    for case in read_dataset("lvsc", lvsc_root):
        frame = case.load_phase("ED")
        volume = sitk.GetArrayViewFromImage(frame.image)
        files = _dicom_files(case.path, phase=0)
        assert volume.shape[0] == len(files) == int(case.info["n_slices"])
        normal = np.reshape(frame.image.GetDirection(), (3, 3))[:, 2]
        positions = []
        for path in files:
            dicom = sitk.ReadImage(str(path))  # GDCM's own reading of IPP/IOP/PixelSpacing
            pixels = sitk.GetArrayViewFromImage(dicom)[0]
            (k,) = [k for k in range(volume.shape[0]) if np.array_equal(volume[k], pixels)]
            corner = frame.image.TransformIndexToPhysicalPoint((0, 0, k))
            np.testing.assert_allclose(corner, dicom.GetOrigin(), atol=1e-3)
            np.testing.assert_allclose(frame.image.GetSpacing()[:2], dicom.GetSpacing()[:2])
            np.testing.assert_allclose(
                np.reshape(frame.image.GetDirection(), (3, 3))[:, :2],
                np.reshape(dicom.GetDirection(), (3, 3))[:, :2],
                atol=1e-6,
            )
            positions.append((k, float(np.dot(dicom.GetOrigin(), normal))))
        along_normal = [p for _, p in sorted(positions)]
        assert np.all(np.diff(along_normal) > 0)
        np.testing.assert_allclose(np.diff(along_normal), frame.image.GetSpacing()[2], rtol=1e-3)


def test_lvsc_shuffled_sa_indices_give_the_same_volume(lvsc_root: Path, lvsc_copy: Path) -> None:
    study = lvsc_copy / "DET0000101"
    n_slices = int(read_dataset("lvsc", lvsc_root)[0].info["n_slices"])
    new_index = {s: n_slices + 1 - s for s in range(1, n_slices + 1)}  # reverse the numbering
    for path in list(study.iterdir()):
        sa, rest = path.name.split("_SA")[1].split("_", 1)
        path.rename(study / f"{study.name}_SA{new_index[int(sa)]}_tmp_{rest}")
    for path in list(study.iterdir()):
        path.rename(study / path.name.replace("_tmp_", "_"))
    original = read_dataset("lvsc", lvsc_root)[0].load_phase("ED")
    shuffled = read_dataset("lvsc", lvsc_copy)[0].load_phase("ED")
    assert _same_geometry(original.image, shuffled.image, atol=0)
    for a, b in ((original.image, shuffled.image), (original.label, shuffled.label)):
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b))


def _cavity(label: sitk.Image) -> int:
    myo = sitk.GetArrayFromImage(label) == LV_MYOCARDIUM
    return sum(int((ndimage.binary_fill_holes(m) & ~m).sum()) for m in myo)


def test_lvsc_labels_and_es_is_smallest_cavity(lvsc_root: Path) -> None:
    for case in read_dataset("lvsc", lvsc_root):
        assert case.group is None and case.ed_frame == 1
        assert case.labelled_frames == tuple(range(1, case.n_frames + 1))
        cavities = {}
        for f in range(1, case.n_frames + 1):
            frame = case.load_frame(f)
            assert frame.label is not None and _same_geometry(frame.label, frame.image, atol=0)
            values = set(np.unique(sitk.GetArrayViewFromImage(frame.label)).tolist())
            assert values == {0, LV_MYOCARDIUM}
            cavities[f] = _cavity(frame.label)
        assert case.es_frame == min(cavities, key=cavities.get)
        assert cavities[case.es_frame] < cavities[case.ed_frame]  # the phantom contracts


def test_lvsc_es_follows_the_masks(lvsc_root: Path, lvsc_copy: Path) -> None:
    case = read_dataset("lvsc", lvsc_root)[0]
    target = next(f for f in range(case.n_frames, 1, -1) if f != case.es_frame)
    for mask in (lvsc_copy / case.case_id).glob(f"*_ph{target - 1}.png"):
        filled = ndimage.binary_fill_holes(sitk.GetArrayFromImage(sitk.ReadImage(str(mask))) > 0)
        sitk.WriteImage(sitk.GetImageFromArray(filled.astype(np.uint8) * 255), str(mask))
    assert read_dataset("lvsc", lvsc_copy)[0].es_frame == target  # no cavity left in `target`


def test_lvsc_upper_case_extensions_and_extra_files(lvsc_root: Path, lvsc_copy: Path) -> None:
    study = lvsc_copy / "DET0000102"
    for path in list(study.iterdir()):
        path.rename(path.with_suffix(path.suffix.upper()))
    (study / ".DS_Store").write_bytes(b"\0")
    (study / "DET0000102_SA1_ph0.dcm.orig").write_bytes(b"junk")
    (lvsc_copy / "MANDATORY_CITATION.md").write_text("cite")
    (lvsc_copy / "README.txt").mkdir()
    original, modified = read_dataset("lvsc", lvsc_root), read_dataset("lvsc", lvsc_copy)
    assert _listing(original) == _listing(modified)
    a, b = original[1].load_phase("ES"), modified[1].load_phase("ES")
    for x, y in ((a.image, b.image), (a.label, b.label)):
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(x), sitk.GetArrayViewFromImage(y))


def test_lvsc_validation_split_without_masks(lvsc_root: Path) -> None:
    (case,) = read_dataset("lvsc", lvsc_root, split="validation")
    assert case.case_id == "DET0000103" and case.labelled_frames == ()
    assert case.load_phase("ED").label is None
    with pytest.raises(ValueError, match="frame 0 outside"):
        case.load_phase("ES")  # ES cannot be measured without masks


def test_lvsc_validation_split_with_its_consensus_masks(lvsc_root: Path) -> None:
    (case,) = read_dataset(
        "lvsc", lvsc_root, split="validation", references=lvsc_root / "consensus"
    )
    assert case.labelled_frames == tuple(range(1, case.n_frames + 1))
    frame = case.load_phase("ES")
    label = sitk.GetArrayFromImage(frame.label)
    assert set(np.unique(label)) == {0, LV_MYOCARDIUM}
    assert frame.label.GetSize() == frame.image.GetSize()


def test_lvsc_missing_consensus_folder_is_an_error(lvsc_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"consensus images\) not found"):
        read_dataset("lvsc", lvsc_root, split="validation", references=tmp_path / "none")


def test_lvsc_partial_masks_are_an_error(lvsc_copy: Path) -> None:
    missing = lvsc_copy / "DET0000101" / "DET0000101_SA2_ph1.png"
    missing.unlink()
    with pytest.raises(DatasetError, match=r"DET0000101_SA2_ph1\.dcm: missing mask"):
        read_dataset("lvsc", lvsc_copy)


def test_lvsc_missing_root_says_where_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as excinfo:
        read_dataset("lvsc", tmp_path / "nowhere")
    assert "cardiacatlas.org" in str(excinfo.value)
    assert str(tmp_path / "nowhere" / "DET0000101") in str(excinfo.value)


def test_lvsc_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no studies here")
    with pytest.raises(DatasetError, match="no DETnnnnnnn study folders"):
        read_dataset("lvsc", tmp_path)


def test_cavity_of_the_bounding_box_equals_the_whole_slice_fill() -> None:
    from dmr.datasets.lvsc import cavity_voxels

    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = np.zeros((40, 50), dtype=bool)
        y, x = rng.integers(5, 35), rng.integers(5, 45)
        yy, xx = np.mgrid[:40, :50]
        radius = np.hypot(yy - y, xx - x)
        mask |= (radius > rng.uniform(2, 5)) & (radius < rng.uniform(6, 9))  # rings, cut at edges
        mask &= rng.random(mask.shape) > 0.05  # with gaps: some rings leak, some hold
        expected = int(np.count_nonzero(ndimage.binary_fill_holes(mask) & ~mask))
        assert cavity_voxels([mask]) == expected


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([0, 1], np.uint8),
        ([0, 255], np.uint8),
        ([255], np.uint8),
        ([1], np.uint8),
        ([0], np.uint16),
        ([0, 1, 255], np.uint8),
        ([0, 128, 255], np.uint8),
        ([0, 2], np.uint8),
        ([1, 255], np.uint8),
        ([0, 65535], np.uint16),
        ([0, 255], np.uint16),
    ],
)
def test_mask_values_accepted_exactly_when_binary(
    tmp_path: Path, values: list[int], dtype: type
) -> None:
    """The fast min/max check of read_mask accepts the masks the value-set definition accepts."""
    from PIL import Image

    from dmr.datasets.lvsc import BINARY_MASK_VALUES, read_mask

    pixels = np.resize(np.asarray(values, dtype=dtype), (12, 10))
    path = tmp_path / "DET0000101_SA1_ph0.png"
    Image.fromarray(pixels).save(path)
    if any(set(values) <= allowed for allowed in BINARY_MASK_VALUES):
        np.testing.assert_array_equal(read_mask(path), pixels > 0)
    else:
        expected = re.escape(f"not binary: values {sorted(set(values))}")
        with pytest.raises(DatasetError, match=expected):
            read_mask(path)
