"""nnU-Net raw-format reader, checks and phantom, on folders written in the real layout."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk

from dmr.datasets import dataset_structures, nnunet, phantom_nnunet, read_dataset
from dmr.datasets.checks import check_dataset
from dmr.datasets.phantom import generate_dataset
from dmr.errors import DatasetError

LABELS = {"background": 0, "RV": 1, "MLV": 2, "LVC": 3}
FULL_MAP = {"RV": "rv", "MLV": "myo", "LVC": "lv"}
OPTIONS: dict[str, Any] = {"labels": FULL_MAP}
PATTERN = r"^(?P<patient>p\d)_(?P<phase>[a-zA-Z]+)$"
SHAPE = (3, 6, 5)  # (z, y, x)
DOMAIN = {"n_frames": [3, 3], "n_slices": [3, 4], "matrix_x": [64, 64], "matrix_y": [64, 64]}


# --------------------------------------------------------------------------- writing helpers
def _image(array: np.ndarray, spacing: tuple[float, ...] = (1.5, 1.5, 8.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing[: array.ndim])
    image.SetOrigin((10.0, -5.0, 3.0)[: array.ndim])
    return image


def _pixels(seed: int, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).normal(100.0, 20.0, size=shape).astype(np.float32)


def _labels(seed: int, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """Every value 0..3, each case differently."""
    return ((np.arange(int(np.prod(shape))) + seed) % 4).reshape(shape).astype(np.uint8)


def write_case(root: Path, case_id: str, seed: int, *, split: str = "training", **kw: Any) -> None:
    """``{case}_0000.nii.gz`` and (unless ``label=False``) its reference, on one grid."""
    images, labels = nnunet.FOLDERS[split]
    shape, spacing = kw.get("shape", SHAPE), kw.get("spacing", (1.5, 1.5, 8.0))
    (root / images).mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(
        _image(_pixels(seed, shape), spacing), str(root / images / f"{case_id}_0000.nii.gz")
    )
    if kw.get("label", True):
        (root / labels).mkdir(parents=True, exist_ok=True)
        label = _image(_labels(seed, shape), spacing)
        sitk.WriteImage(label, str(root / labels / f"{case_id}.nii.gz"))


def write_json(root: Path, **fields: Any) -> None:
    description = {"channel_names": {"0": "cineMRI"}, "labels": LABELS, "numTraining": 4}
    description.update(file_ending=".nii.gz", **fields)
    (root / "dataset.json").write_text(json.dumps(description), encoding="utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Dataset040_Tiny: p1/p2 ED+ES labelled, p3 ED+ES in imagesTs without labelsTs, and quirks."""
    root = tmp_path / "Dataset040_Tiny"
    for seed, case_id in enumerate(("p1_ED", "p1_ES", "p2_ED", "p2_ES")):
        write_case(root, case_id, seed)
    for seed, case_id in enumerate(("p3_ED", "p3_ES"), start=10):
        write_case(root, case_id, seed, split="testing", label=False)
    write_json(root)
    (root / "README.md").write_text("converted with nnU-Net\n")
    (root / "imagesTr" / ".DS_Store").write_bytes(b"\0\1junk")
    (root / "imagesTr" / "._p1_ED_0000.nii.gz").write_bytes(b"AppleDouble")
    (root / "imagesTr" / "notes.txt").write_text("not an image")
    (root / "labelsTr" / ".DS_Store").write_bytes(b"\0\1junk")
    return root


def _array(image: sitk.Image | None) -> np.ndarray:
    assert image is not None
    return sitk.GetArrayFromImage(image)


# --------------------------------------------------------------------------- reading
def test_each_case_is_its_own_patient_without_pattern(root: Path) -> None:
    cases = read_dataset("nnunet", root, options=OPTIONS)
    assert [c.case_id for c in cases] == ["p1_ED", "p1_ES", "p2_ED", "p2_ES"]
    case = cases[1]
    assert (case.ed_frame, case.es_frame, case.n_frames, case.labelled_frames) == (0, 0, 1, (1,))
    assert case.info["frame_cases"] == "p1_ES" and case.group is None
    frame = case.load_frame(1)
    np.testing.assert_array_equal(_array(frame.image), _pixels(1))
    np.testing.assert_array_equal(_array(frame.label), _labels(1))
    assert frame.label is not None and frame.label.GetPixelID() == sitk.sitkUInt8
    with pytest.raises(ValueError):
        case.load_phase("ES")  # unknown phases, as LVSC's unknown ES


def test_testing_split_without_labels_ts(root: Path) -> None:
    cases = read_dataset(
        "nnunet", root, split="testing", options={**OPTIONS, "case_pattern": PATTERN}
    )
    assert [(c.case_id, c.ed_frame, c.es_frame, c.labelled_frames) for c in cases] == [
        ("p3", 1, 2, ())
    ]
    assert cases[0].load_phase("ES").label is None
    write_case(root, "p3_ED", 10, split="testing")  # labelsTs with the ES label missing
    case = read_dataset("nnunet", root, "testing", options={**OPTIONS, "case_pattern": PATTERN})[0]
    assert case.labelled_frames == (1,) and case.load_phase("ES").label is None
    np.testing.assert_array_equal(_array(case.load_phase("ED").label), _labels(10))


def test_case_pattern_groups_frames_ed_es_then_others(root: Path) -> None:
    write_case(root, "p1_mid", 5)
    write_case(root, "p2_a", 6)
    (root / "imagesTr" / "p2_ES_0000.nii.gz").rename(root / "imagesTr" / "p2_es_0000.nii.gz")
    (root / "labelsTr" / "p2_ES.nii.gz").rename(root / "labelsTr" / "p2_es.nii.gz")
    p1, p2 = read_dataset("nnunet", root, options={**OPTIONS, "case_pattern": PATTERN})
    assert (p1.case_id, p1.ed_frame, p1.es_frame, p1.n_frames) == ("p1", 1, 2, 3)
    assert p1.info["frame_cases"] == "p1_ED,p1_ES,p1_mid"
    assert p2.info["frame_cases"] == "p2_ED,p2_es,p2_a"  # phase matched case-insensitively
    np.testing.assert_array_equal(_array(p1.load_phase("ES").image), _pixels(1))
    np.testing.assert_array_equal(_array(p1.load_frame(3).label), _labels(5))


def test_phases_csv_as_dataset027_writes_acdc(tmp_path: Path) -> None:
    root = tmp_path / "Dataset027_ACDC"
    for seed, case_id in enumerate(
        ("patient001_frame01", "patient001_frame12", "patient002_frame01")
    ):
        write_case(root, case_id, seed)
    write_json(root, numTraining=3)
    (root / "meta").mkdir()
    (root / "meta" / "phases.csv").write_text(
        "case,patient,phase,group\npatient001_frame01,patient001,ED,DCM\n"
        "patient001_frame12,patient001,es,DCM\npatient002_frame01,patient002,,NOR\n"
        "patient150_frame01,patient150,ED,RV\n"
    )
    options = {**OPTIONS, "phases": "meta/phases.csv"}
    p1, p2 = read_dataset("nnunet", root, options=options)
    assert (p1.case_id, p1.group, p1.ed_frame, p1.es_frame, p1.n_frames) == (
        "patient001",
        "DCM",
        1,
        2,
        2,
    )
    assert (p2.group, p2.ed_frame, p2.es_frame) == ("NOR", 0, 0)
    absolute = {**OPTIONS, "phases": str(root / "meta" / "phases.csv")}
    assert [c.case_id for c in read_dataset("nnunet", root, options=absolute)] == [
        "patient001",
        "patient002",
    ]
    (root / "meta" / "phases.csv").write_text(
        "case,patient,phase\npatient001_frame01,patient001,ED\n"
    )
    with pytest.raises(DatasetError, match=r"phases\.csv: no row for case patient001_frame12"):
        read_dataset("nnunet", root, options=options)


def test_myocardium_only_map(root: Path) -> None:
    options = {"labels": {"MLV": "myo", "RV": "background", "LVC": "background"}}
    assert nnunet.structures(options) == ("myo",) == dataset_structures("nnunet", options)
    assert dataset_structures("nnunet", OPTIONS) == ("rv", "myo", "lv")
    label = read_dataset("nnunet", root, options=options)[0].load_frame(1).label
    np.testing.assert_array_equal(_array(label), np.where(_labels(0) == 2, 2, 0))


def test_v1_dataset_json(root: Path) -> None:
    v1 = {
        "modality": {"0": "MRI"},
        "labels": {str(v): k for k, v in LABELS.items()},
        "numTraining": 4,
    }
    (root / "dataset.json").write_text(json.dumps(v1))  # no file_ending: .nii.gz
    frame = read_dataset("nnunet", root, options=OPTIONS)[0].load_frame(1)
    np.testing.assert_array_equal(_array(frame.label), _labels(0))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"labels": {**LABELS, "heart": [1, 2, 3]}}, ["'heart'", "region-based"]),
        ({"channel_names": {"0": "cine", "1": "LGE"}}, ["2 channels", "one cine channel"]),
        ({"labels": {"background": 0, "RV": 1, "MLV": 2, "LVC": 3, "PAP": 3}}, ["share value 3"]),
        (None, ["missing"]),
        ("{not json", ["not valid JSON"]),
    ],
)
def test_dataset_json_refused(root: Path, change: Any, words: list[str]) -> None:
    path = root / "dataset.json"
    if change is None:
        path.unlink()
    elif isinstance(change, str):
        path.write_text(change)
    else:
        write_json(root, **change)
    with pytest.raises(DatasetError) as error:
        read_dataset("nnunet", root, options=OPTIONS)
    assert str(path) in str(error.value) and all(w in str(error.value) for w in words)


def test_label_name_not_in_map_names_dataset_json(root: Path) -> None:
    with pytest.raises(DatasetError) as error:
        read_dataset("nnunet", root, options={"labels": {"RV": "rv", "MLV": "myo"}})
    message = str(error.value)
    assert (
        str(root / "dataset.json") in message and "'LVC'" in message and "reader.labels" in message
    )


def test_undeclared_label_value_names_the_file(root: Path) -> None:
    path = root / "labelsTr" / "p1_ED.nii.gz"
    sitk.WriteImage(_image(np.full(SHAPE, 7, np.uint8)), str(path))
    case = read_dataset("nnunet", root, options=OPTIONS)[0]
    with pytest.raises(DatasetError, match=rf"{path}: label values \[7\] not declared"):
        case.load_frame(1)


def test_extra_channel_file_refused(root: Path) -> None:
    write_case(root, "p1_ED_0001", 3, label=False)  # imagesTr/p1_ED_0001_0000.nii.gz: own case
    shutil.copy(root / "imagesTr" / "p1_ED_0000.nii.gz", root / "imagesTr" / "p1_ES_0001.nii.gz")
    with pytest.raises(DatasetError, match=r"p1_ES_0001\.nii\.gz: channel 0001"):
        read_dataset("nnunet", root, options=OPTIONS)


@pytest.mark.parametrize(
    ("vector", "words"), [(False, "4-D image"), (True, "5 components per pixel")]
)
def test_4d_or_vector_image_refused_on_load(root: Path, vector: bool, words: str) -> None:
    path = root / "imagesTr" / "p1_ED_0000.nii.gz"
    array = np.zeros((2, *SHAPE), np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(array, isVector=vector), str(path))
    case = read_dataset("nnunet", root, options=OPTIONS)[0]  # listing reads no image
    with pytest.raises(DatasetError, match=rf"{path}: {words}"):
        case.load_frame(1)


def test_lazy_listing_then_corrupt_image_named(root: Path) -> None:
    path = root / "imagesTr" / "p2_ED_0000.nii.gz"
    path.write_bytes(path.read_bytes()[:100])
    cases = read_dataset("nnunet", root, options=OPTIONS)
    with pytest.raises(DatasetError, match=str(path)):
        cases[2].load_frame(1)


def test_image_without_label_names_the_missing_file(root: Path) -> None:
    (root / "labelsTr" / "p1_ES.nii.gz").unlink()
    with pytest.raises(DatasetError, match=str(root / "labelsTr" / "p1_ES.nii.gz")):
        read_dataset("nnunet", root, options=OPTIONS)


def test_label_geometry_must_match(root: Path) -> None:
    path = root / "labelsTr" / "p1_ED.nii.gz"
    sitk.WriteImage(_image(_labels(0), (1.5, 1.5, 9.0)), str(path))
    with pytest.raises(DatasetError, match=rf"{path}: spacing"):
        read_dataset("nnunet", root, options=OPTIONS)[0].load_frame(1)


@pytest.mark.parametrize("kind", ["2-D image", "single slice along x"])
def test_2d_images_become_one_slice_volumes(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "Dataset041_2D"
    shape = (6, 5) if kind == "2-D image" else (6, 5, 1)
    write_case(
        root, "c1", 0, shape=shape, spacing=(8.0, 1.5, 1.4) if len(shape) == 3 else (1.5, 1.4)
    )
    write_json(root, numTraining=1)
    frame = read_dataset("nnunet", root, options=OPTIONS)[0].load_frame(1)
    assert frame.image.GetSize() == (5, 6, 1) and frame.label is not None
    assert frame.label.GetSize() == frame.image.GetSize()
    np.testing.assert_array_equal(_array(frame.image).ravel(), _pixels(0, shape).ravel())
    np.testing.assert_array_equal(_array(frame.label).ravel(), _labels(0, shape).ravel())
    if kind == "single slice along x":
        original = sitk.ReadImage(str(root / "imagesTr" / "c1_0000.nii.gz"))
        point = original.TransformIndexToPhysicalPoint((0, 4, 3))
        assert np.allclose(frame.image.TransformIndexToPhysicalPoint((4, 3, 0)), point)


def test_largest_spacing_along_x_is_permuted_to_z(tmp_path: Path) -> None:
    root = tmp_path / "Dataset042_Sagittal"
    write_case(root, "c1", 0, spacing=(9.0, 1.5, 1.4))  # x spacing 9 mm: x is the slice axis
    write_json(root, numTraining=1)
    frame = read_dataset("nnunet", root, options=OPTIONS)[0].load_frame(1)
    original = sitk.ReadImage(str(root / "imagesTr" / "c1_0000.nii.gz"))
    assert frame.image.GetSize() == (6, 3, 5) and frame.image.GetSpacing() == pytest.approx(
        (1.5, 1.4, 9.0)
    )
    for i, j, k in [(0, 0, 0), (4, 5, 2), (1, 3, 2)]:
        moved = frame.image.TransformIndexToPhysicalPoint((j, k, i))
        assert np.allclose(moved, original.TransformIndexToPhysicalPoint((i, j, k)))
        assert frame.image[j, k, i] == original[i, j, k]
        assert frame.label is not None and frame.label[j, k, i] == _labels(0)[k, j, i]


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({}, "reader.labels: required"),
        ({"labels": []}, "reader.labels: expected"),
        ({"labels": {"RV": "right", "MLV": "myo"}}, "reader.labels.RV: 'right'"),
        ({"labels": {"RV": "background"}}, "reader.labels: maps no label"),
        ({**OPTIONS, "label_map": {}}, "reader.label_map: unknown option"),
        ({**OPTIONS, "label": {}}, "reader.label: unknown option"),
        ({**OPTIONS, "case_pattern": "(?P<case>.+)"}, "reader.case_pattern: needs"),
        ({**OPTIONS, "case_pattern": "(unclosed"}, "reader.case_pattern: not a valid"),
        ({**OPTIONS, "phases": 3}, "reader.phases: expected"),
        (
            {**OPTIONS, "phases": "p.csv", "case_pattern": PATTERN},
            "reader.case_pattern, reader.phases:",
        ),
    ],
)
def test_option_problems_name_the_key(root: Path, options: dict, key: str) -> None:
    problems = nnunet.option_problems(options)
    assert len(problems) == 1 and problems[0].startswith(key), problems
    with pytest.raises(DatasetError, match="reader options"):
        read_dataset("nnunet", root, options=options)


def test_good_options_have_no_problem() -> None:
    assert nnunet.option_problems({**OPTIONS, "case_pattern": PATTERN}) == []
    assert nnunet.option_problems({"labels": {"MLV": "myo"}, "phases": "phases.csv"}) == []


# --------------------------------------------------------------------------- checks
def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {
        p.relative_to(root).as_posix(): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_check_good_folder_keys_phases(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        report = check_dataset("nnunet", root, {**OPTIONS, "case_pattern": PATTERN})
    assert report.problems == []
    assert "no labelsTs" in caplog.text
    p1 = report.cases[0]
    assert (p1["id"], p1["split"], p1["ed_frame"], p1["es_frame"]) == ("p1", "training", 1, 2)
    assert set(p1["phases"]) == {"ED", "ES"} and p1["phases"]["ED"]["label_values"] == [0, 1, 2, 3]
    assert report.cases[-1]["split"] == "testing" and report.cases[-1]["phases"] == {}
    assert "dataset.json" in report.manifest and "imagesTr/p1_ED_0000.nii.gz" in report.manifest
    unphased = check_dataset("nnunet", root, OPTIONS)
    assert unphased.ok and set(unphased.cases[0]["phases"]) == {"p1_ED"}


def test_check_reports_every_problem_and_modifies_nothing(root: Path) -> None:
    damage: list[tuple[str, Callable[[Path], None]]] = [
        ("imagesTr/p1_ED_0000.nii.gz", lambda p: p.write_bytes(p.read_bytes()[:200])),
        ("labelsTr/p1_ES.nii.gz", lambda p: p.unlink()),
        (
            "labelsTr/p2_ED.nii.gz",
            lambda p: sitk.WriteImage(_image(np.full(SHAPE, 9, np.uint8)), str(p)),
        ),
        (
            "labelsTr/p2_ES.nii.gz",
            lambda p: sitk.WriteImage(_image(_labels(3), (2.0, 1.5, 8.0)), str(p)),
        ),
    ]
    for name, breaker in damage:
        breaker(root / name)
    before = snapshot(root)
    report = check_dataset("nnunet", root, {"labels": {"RV": "rv", "MLV": "myo"}})
    assert snapshot(root) == before
    expected = [
        ("dataset.json", "'LVC'"),
        ("imagesTr/p1_ED_0000.nii.gz", "truncated"),
        ("labelsTr/p1_ES.nii.gz", "missing"),
        ("labelsTr/p2_ED.nii.gz", "[9] not declared"),
        ("labelsTr/p2_ES.nii.gz", "geometry mismatch"),
    ]
    for name, words in expected:
        assert any(str(root / name) in p and words in p for p in report.problems), (
            name,
            report.problems,
        )
    assert len(report.problems) == len(expected), report.problems


def test_check_bad_options_and_missing_root(tmp_path: Path) -> None:
    report = check_dataset("nnunet", tmp_path / "none", {"labels": {"RV": "right"}})
    assert report.problems == [
        "reader options: reader.labels.RV: 'right' is not one of background, rv, myo, lv",
        "reader options: reader.labels: maps no label to rv, myo or lv",
    ]
    report = check_dataset("nnunet", tmp_path / "none", OPTIONS)
    assert "dataset.json" in report.problems[0] and "imagesTr" in report.problems[0]


# --------------------------------------------------------------------------- phantom
@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The nnU-Net phantom and, per patient, the rendered cases the writer got."""
    rendered: dict[str, Any] = {}
    write = phantom_nnunet.write_nnunet_case

    def spy(root: Path, case: Any, **kw: Any) -> dict[str, str]:
        rendered[f"patient{kw['number']:03d}"] = case
        return write(root, case, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(phantom_nnunet, "write_nnunet_case", spy)
        root = tmp_path_factory.mktemp("nnunet") / "x"
        generate_dataset("nnunet", root, n_cases=2, n_testing=1, seed=0, domain=DOMAIN)
    return root, rendered


@pytest.mark.parametrize(
    ("split", "patients"), [("training", ["patient001", "patient002"]), ("testing", ["patient003"])]
)
def test_phantom_round_trip(
    phantom: tuple[Path, dict[str, Any]], split: str, patients: list[str]
) -> None:
    root, rendered = phantom
    cases = read_dataset("nnunet", root, split=split, options=phantom_nnunet.PHANTOM_OPTIONS)
    assert [c.case_id for c in cases] == patients
    for case in cases:
        source = rendered[case.case_id]
        assert (case.ed_frame, case.es_frame, case.n_frames, case.labelled_frames) == (
            1,
            2,
            2,
            (1, 2),
        )
        assert (
            case.info["frame_cases"]
            == f"{case.case_id}_frame01,{case.case_id}_frame{source.es_frame:02d}"
        )
        assert case.group is not None
        for phase, index in (("ED", 0), ("ES", source.es_frame - 1)):
            frame = case.load_phase(phase)
            np.testing.assert_array_equal(_array(frame.label), source.labels[index])
    assert check_dataset("nnunet", root, phantom_nnunet.PHANTOM_OPTIONS).ok


def test_phantom_is_deterministic(phantom: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, _ = phantom
    generate_dataset("nnunet", tmp_path / "again", n_cases=2, n_testing=1, seed=0, domain=DOMAIN)
    strip = lambda snap: {k: v[1] for k, v in snap.items()}  # noqa: E731
    assert strip(snapshot(tmp_path / "again")) == strip(snapshot(root))
