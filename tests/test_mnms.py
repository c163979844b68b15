"""The M&Ms reader, its checks and its phantom writer, on folders in the real open-dataset layout
(``.DS_Store`` files, an Unlabeled subject, 4-D labels with empty frames, the CSV's unnamed index
column, CSV rows of subjects without a folder)."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from dmr.datasets import mnms, phantom_mnms, read_dataset, reader_option_problems
from dmr.datasets.checks import check_dataset
from dmr.datasets.phantom import generate_dataset
from dmr.errors import DatasetError

SIZE = (8, 6, 2)  # x, y, z
N_FRAMES = 4
SPACING = (1.25, 1.25, 10.0, 30.0)
ORIGIN = (-10.0, 5.0, 2.5, 0.0)
OLD_CSV = "201014_M&Ms_Dataset_Information_-_opendataset.csv"
HEADER = ["", "External code", "VendorName", "Vendor", "Centre", "ED", "ES"]
HEADER += ["Age", "Pathology", "Sex", "Height", "Weight"]
#: code: (vendor, vendor name, centre, ED, ES, pathology), ED/ES 0-based as in the CSV.
SUBJECTS = {
    "A0S9V9": ("A", "Siemens", "1", 0, 2, "HCM"),
    "B1C2D3": ("B", "Philips", "3", 1, 3, "DCM"),
    "C5U7N1": ("C", "GE", "4", 0, 2, "NOR"),  # Training/Unlabeled
    "D2V4L6": ("D", "Canon", "5", 0, 1, "NOR"),  # Validation
    "E7T8S9": ("A", "Siemens", "1", 2, 0, "ARV"),  # Testing
    "F0T0N0": ("B", "Philips", "2", 0, 1, "NOR"),  # Testing, without _sa_gt (older release)
    "Z9Z9Z9": ("D", "Canon", "6", 0, 1, "NOR"),  # in the CSV, no folder
}
TRAINING = Path("Training") / "Labeled"


def _image4d(array: np.ndarray) -> sitk.Image:
    image = sitk.GetImageFromArray(array, isVector=False)
    direction = np.eye(4)
    direction[:3, :3] = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN)
    image.SetDirection(direction.ravel().tolist())
    return image


def _cine(code: str) -> np.ndarray:
    seed = int(hashlib.sha256(code.encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    return rng.integers(0, 900, (N_FRAMES, SIZE[2], SIZE[1], SIZE[0])).astype(np.int16)


def _labels(ed: int, es: int) -> np.ndarray:
    """(t, z, y, x) labels in the M&Ms convention, annotated at ED and ES only."""
    labels = np.zeros((N_FRAMES, SIZE[2], SIZE[1], SIZE[0]), dtype=np.uint8)
    for t in {ed, es}:
        labels[t, :, 1:3, 1:3] = 1  # LV cavity
        labels[t, :, 0, 0:4] = 2  # myocardium
        labels[t, :, 4:6, 5:8] = 3  # RV cavity
    return labels


def write_subject(folder: Path, code: str, labelled: bool = True) -> None:
    folder.mkdir(parents=True)
    sitk.WriteImage(_image4d(_cine(code)), str(folder / f"{code}_sa.nii.gz"), True)
    if labelled:
        _, _, _, ed, es, _ = SUBJECTS[code]
        sitk.WriteImage(_image4d(_labels(ed, es)), str(folder / f"{code}_sa_gt.nii.gz"), True)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


def write_csv(path: Path, codes: list[str], index_column: bool = True) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER if index_column else HEADER[1:7])
        for i, code in enumerate(codes):
            vendor, name, centre, ed, es, pathology = SUBJECTS[code]
            row = [code, name, vendor, centre, ed, es, 50, pathology, "M", 170, 70]
            writer.writerow([i, *row] if index_column else row[:6])


@pytest.fixture
def mnms_root(tmp_path: Path) -> Path:
    root = tmp_path / "OpenDataset"
    write_subject(root / TRAINING / "A0S9V9", "A0S9V9")
    write_subject(root / TRAINING / "B1C2D3", "B1C2D3")
    write_subject(root / "Training" / "Unlabeled" / "C5U7N1", "C5U7N1", labelled=False)
    write_subject(root / "Validation" / "D2V4L6", "D2V4L6")
    write_subject(root / "Testing" / "E7T8S9", "E7T8S9")
    write_subject(root / "Testing" / "F0T0N0", "F0T0N0", labelled=False)
    (root / TRAINING / "notes").mkdir()  # an extra folder
    (root / TRAINING / "notes" / "readme.txt").write_text("not a subject")
    for folder in (root, root / "Training", root / TRAINING):
        (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "notes.csv").write_text("a,b\n1,2\n")  # a CSV without the M&Ms columns
    write_csv(root / mnms.INFO_CSV, list(SUBJECTS))
    return root


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {
        p.relative_to(root).as_posix(): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- reader
def test_training_cases_from_labeled_with_csv_metadata(mnms_root: Path) -> None:
    cases = read_dataset("mnms", mnms_root)
    assert [c.case_id for c in cases] == ["A0S9V9", "B1C2D3"]  # no Unlabeled, no extra folder
    a, b = cases
    assert (a.ed_frame, a.es_frame, a.n_frames, a.labelled_frames) == (1, 3, N_FRAMES, (1, 3))
    assert (b.ed_frame, b.es_frame, b.labelled_frames) == (2, 4, (2, 4))
    assert a.group == "A" and b.group == "B" and a.dataset_format == "mnms"
    assert dict(b.info) == {
        "vendor": "B", "vendor_name": "Philips", "centre": "3", "pathology": "DCM"
    }  # fmt: skip
    assert a.cine_path == mnms_root / TRAINING / "A0S9V9" / "A0S9V9_sa.nii.gz"


def test_frames_keep_geometry_and_labels_are_remapped(mnms_root: Path) -> None:
    case = read_dataset("mnms", mnms_root)[1]
    ed = case.load_phase("ED")
    assert ed.frame == 2 and ed.image.GetSize() == SIZE
    assert np.array_equal(sitk.GetArrayFromImage(ed.image), _cine("B1C2D3")[1])
    assert ed.image.GetSpacing() == pytest.approx(SPACING[:3])
    assert ed.image.GetOrigin() == pytest.approx(ORIGIN[:3])
    assert ed.image.GetDirection() == pytest.approx((0, 1, 0, 1, 0, 0, 0, 0, -1))
    assert ed.label is not None and ed.label.GetPixelID() == sitk.sitkUInt8
    label = sitk.GetArrayFromImage(ed.label)
    written = _labels(1, 3)[1]
    assert np.array_equal(label[written == 1], np.full((written == 1).sum(), 3))  # LV 1 -> 3
    assert np.array_equal(label[written == 3], np.full((written == 3).sum(), 1))  # RV 3 -> 1
    assert np.array_equal(label == 2, written == 2) and np.array_equal(label == 0, written == 0)
    assert ed.label.GetOrigin() == ed.image.GetOrigin()
    assert case.load_frame(1).label is None  # not annotated: no reference


def test_validation_and_testing_splits(mnms_root: Path) -> None:
    assert [c.case_id for c in read_dataset("mnms", mnms_root, "validation")] == ["D2V4L6"]
    testing = read_dataset("mnms", mnms_root, "testing")
    assert [c.case_id for c in testing] == ["E7T8S9"]  # F0T0N0 has no _sa_gt
    assert (testing[0].ed_frame, testing[0].es_frame) == (3, 1)
    assert testing[0].load_phase("ES").label is not None


@pytest.mark.parametrize(
    ("group", "expected"),
    [("vendor", ["A", "B"]), ("centre", ["1", "3"]), ("pathology", ["HCM", "DCM"])],
)
def test_group_option(mnms_root: Path, group: str, expected: list[str]) -> None:
    cases = read_dataset("mnms", mnms_root, options={"group": group})
    assert [c.group for c in cases] == expected


def test_option_problems() -> None:
    assert mnms.option_problems({}) == []
    assert mnms.option_problems({"info": "x.csv", "group": "centre"}) == []
    problems = mnms.option_problems({"group": "scanner", "labels": {}, "info": 3})
    assert len(problems) == 3
    assert any("'labels'" in p for p in problems) and any("scanner" in p for p in problems)
    assert reader_option_problems("mnms", {"group": "site"})


def test_bad_options_stop_reader_and_checker(mnms_root: Path) -> None:
    with pytest.raises(DatasetError, match="group"):
        read_dataset("mnms", mnms_root, options={"group": "site"})
    report = check_dataset("mnms", mnms_root, {"group": "site"})
    assert report.problems and all(p.startswith("reader options:") for p in report.problems)


def test_information_csv_discovery_and_info_option(mnms_root: Path) -> None:
    (mnms_root / mnms.INFO_CSV).rename(mnms_root / "other.txt")
    with pytest.raises(DatasetError, match="no M&Ms information CSV") as error:
        read_dataset("mnms", mnms_root)
    assert str(mnms_root) in str(error.value) and "notes.csv" in str(error.value)
    assert len(read_dataset("mnms", mnms_root, options={"info": "other.txt"})) == 2
    # The 2020 file: no index column, no Pathology; found beside the 2021 one -> ambiguous.
    write_csv(mnms_root / OLD_CSV, list(SUBJECTS), index_column=False)
    assert [c.group for c in read_dataset("mnms", mnms_root)] == ["A", "B"]
    (mnms_root / "other.txt").rename(mnms_root / mnms.INFO_CSV)
    with pytest.raises(DatasetError, match="several") as error:
        read_dataset("mnms", mnms_root)
    assert OLD_CSV in str(error.value) and mnms.INFO_CSV in str(error.value)
    with pytest.raises(DatasetError, match="Pathology"):
        read_dataset("mnms", mnms_root, options={"info": OLD_CSV, "group": "pathology"})
    with pytest.raises(DatasetError, match=r"missing\.csv"):
        read_dataset("mnms", mnms_root, options={"info": "missing.csv"})


def test_subject_without_csv_row_is_an_error(mnms_root: Path) -> None:
    write_csv(mnms_root / mnms.INFO_CSV, ["A0S9V9", "D2V4L6"])
    with pytest.raises(DatasetError, match="B1C2D3 has no row") as error:
        read_dataset("mnms", mnms_root)
    assert str(mnms_root / mnms.INFO_CSV) in str(error.value)


def test_ed_outside_the_cine_is_an_error(mnms_root: Path) -> None:
    csv_path = mnms_root / mnms.INFO_CSV
    text = csv_path.read_text().replace("B1C2D3,Philips,B,3,1,3", "B1C2D3,Philips,B,3,1,4")
    csv_path.write_text(text)
    with pytest.raises(DatasetError, match=r"B1C2D3 ES = 4 outside the cine B1C2D3_sa\.nii\.gz"):
        read_dataset("mnms", mnms_root)


def _rewrite_label(root: Path, code: str, array: np.ndarray, **geometry: object) -> Path:
    path = root / TRAINING / code / f"{code}_sa_gt.nii.gz"
    image = _image4d(array)
    if "spacing" in geometry:
        image.SetSpacing(geometry["spacing"])  # type: ignore[arg-type]
    sitk.WriteImage(image, str(path), True)
    return path


def test_bad_label_files_are_errors_naming_the_file(mnms_root: Path) -> None:
    labels = _labels(0, 2)
    labels[0, 0, 0, 0] = 5
    path = _rewrite_label(mnms_root, "A0S9V9", labels)
    case = read_dataset("mnms", mnms_root)[0]
    with pytest.raises(DatasetError, match=r"A0S9V9_sa_gt.nii.gz: label values \[5\]"):
        case.load_phase("ED")
    _rewrite_label(mnms_root, "A0S9V9", _labels(0, 2), spacing=(1.5, 1.25, 10.0, 30.0))
    with pytest.raises(DatasetError, match=re.escape(f"{path}: spacing")):
        read_dataset("mnms", mnms_root)[0].load_phase("ED")
    empty_ed = _labels(0, 2)
    empty_ed[0] = 0
    _rewrite_label(mnms_root, "A0S9V9", empty_ed)
    case = read_dataset("mnms", mnms_root)[0]
    assert case.load_phase("ES").label is not None
    with pytest.raises(DatasetError, match=r"frame 1 \(ED\) of A0S9V9_sa_gt.nii.gz is empty"):
        case.load_phase("ED")


def test_missing_root_says_where_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"ub\.edu/mnms") as error:
        read_dataset("mnms", tmp_path / "absent")
    assert "Training" in str(error.value) and "_sa_gt" in str(error.value)
    report = check_dataset("mnms", tmp_path / "absent")
    assert len(report.problems) == 1 and "ub.edu/mnms" in report.problems[0]


def test_wrong_root_gets_a_hint(mnms_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="must be the OpenDataset folder"):
        read_dataset("mnms", mnms_root.parent)
    mnms2 = tmp_path / "MnM2" / "dataset" / "001"
    mnms2.mkdir(parents=True)
    (mnms2 / "001_SA_CINE.nii.gz").write_bytes(b"")
    with pytest.raises(DatasetError, match="looks like M&Ms-2"):
        read_dataset("mnms", tmp_path / "MnM2")


# --------------------------------------------------------------------------- checks
def test_check_good_folder_records_vendor_and_leaves_it_untouched(mnms_root: Path) -> None:
    before = snapshot(mnms_root)
    report = check_dataset("mnms", mnms_root)
    assert snapshot(mnms_root) == before
    assert report.ok, report.problems
    assert [(c["id"], c["split"]) for c in report.cases] == [
        ("A0S9V9", "training"), ("B1C2D3", "training"), ("D2V4L6", "validation"),
        ("E7T8S9", "testing"),
    ]  # fmt: skip
    b = report.cases[1]
    assert (b["vendor"], b["centre"], b["group"]) == ("B", "3", "B")
    assert (b["ed_frame"], b["es_frame"], b["n_frames"], b["labelled_frames"]) == (2, 4, 4, [2, 4])
    assert set(b["phases"]) == {"ED", "ES"}
    assert b["phases"]["ED"]["shape"] == list(SIZE) and b["phases"]["ED"]["label_values"] == [
        0,
        1,
        2,
        3,
    ]
    assert mnms.INFO_CSV in report.manifest
    assert f"{TRAINING.as_posix()}/A0S9V9/A0S9V9_sa_gt.nii.gz" in report.manifest
    assert report.groups() == {"A": 2, "B": 1, "D": 1}
    pathology = check_dataset("mnms", mnms_root, {"group": "pathology"})
    assert [c["group"] for c in pathology.cases] == ["HCM", "DCM", "NOR", "ARV"]


def test_check_reports_every_problem_at_once_and_modifies_nothing(mnms_root: Path) -> None:
    empty_ed = _labels(0, 2)
    empty_ed[0] = 0
    empty_ed[1, 0, 0, 0] = 2  # an annotated non-ED/ES frame is normal
    _rewrite_label(mnms_root, "A0S9V9", empty_ed)
    bad_values = _labels(1, 3)
    bad_values[3, 0, 0, 0] = 4
    _rewrite_label(mnms_root, "B1C2D3", bad_values)
    cine = mnms_root / "Testing" / "E7T8S9" / "E7T8S9_sa.nii.gz"
    cine.write_bytes(cine.read_bytes()[: cine.stat().st_size // 2])
    write_csv(mnms_root / mnms.INFO_CSV, ["A0S9V9", "B1C2D3", "E7T8S9"])  # no D2V4L6 row
    before = snapshot(mnms_root)
    report = check_dataset("mnms", mnms_root)
    assert snapshot(mnms_root) == before
    problems = report.problems
    assert any("frame 1 (ED) of A0S9V9_sa_gt.nii.gz is empty" in p for p in problems), problems
    assert not any("frame 2" in p for p in problems)
    assert any("B1C2D3_sa_gt.nii.gz: label values [4]" in p for p in problems)
    assert any("D2V4L6 has no row" in p for p in problems)
    assert any("E7T8S9_sa.nii.gz" in p and "corrupt" in p for p in problems)
    assert len(problems) == 4, problems
    assert report.cases[0]["labelled_frames"] == [2, 3] and set(report.cases[0]["phases"]) == {"ES"}


# --------------------------------------------------------------------------- phantom
DOMAIN = {"n_frames": [3, 3], "n_slices": [3, 4], "matrix_x": [64, 64], "matrix_y": [64, 64]}


def test_phantom_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: dict[str, np.ndarray] = {}
    original = phantom_mnms.write_mnms_case

    def spy(root: Path, case, **kwargs):  # type: ignore[no-untyped-def]
        row = original(root, case, **kwargs)
        written[row["External code"]] = case.labels.copy()
        return row

    monkeypatch.setattr(phantom_mnms, "write_mnms_case", spy)
    root = tmp_path / "x"
    generate_dataset("mnms", root, n_cases=4, n_testing=2, seed=0, domain=DOMAIN)
    training = read_dataset("mnms", root)
    testing = read_dataset("mnms", root, "testing")
    assert [c.group for c in training] == ["A", "B", "A", "B"] and len(testing) == 2
    assert [c.info["vendor_name"] for c in testing] == ["Siemens", "Philips"]
    for case in training + testing:
        assert len(case.case_id) == 6 and case.case_id.isalnum() and case.n_frames == 3
        assert case.ed_frame == 1 and case.labelled_frames == (1, case.es_frame)
        for phase in ("ED", "ES"):
            frame = case.load_phase(phase)
            assert frame.label is not None
            expected = written[case.case_id][frame.frame - 1]
            assert np.array_equal(sitk.GetArrayFromImage(frame.label), expected)
    report = check_dataset("mnms", root)
    assert report.ok, report.problems
    assert report.groups() == {"A": 3, "B": 3}

    again = tmp_path / "y"
    monkeypatch.setattr(phantom_mnms, "write_mnms_case", original)
    generate_dataset("mnms", again, n_cases=4, n_testing=2, seed=0, domain=DOMAIN)
    assert {k: v[1] for k, v in snapshot(root).items()} == {
        k: v[1] for k, v in snapshot(again).items()
    }
