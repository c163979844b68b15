"""`dmr check-data`: a good phantom passes; every kind of damage is reported with its file."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from dmr.cli import main
from dmr.datasets.checks import check_dataset

P1 = Path("training") / "patient001"
DET = Path("DET0000101")


def run_check(fmt: str, root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Exit status of ``dmr check-data`` and the problem lines it printed."""
    status = main(["check-data", "--format", fmt, str(root)])
    err = capsys.readouterr().err
    return status, [line for line in err.splitlines() if line.startswith("problem:")]


def assert_reported(problems: list[str], file_name: str, *words: str) -> None:
    """One problem line names ``file_name`` and says every one of ``words``."""
    matching = [p for p in problems if file_name in p and all(w in p for w in words)]
    assert matching, f"no problem naming {file_name} with {words}; got: {problems}"


def rewrite_image(path: Path, change: Callable[[sitk.Image], sitk.Image]) -> None:
    sitk.WriteImage(change(sitk.ReadImage(str(path))), str(path), useCompression=True)


def rewrite_array(path: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    def apply(image: sitk.Image) -> sitk.Image:
        changed = sitk.GetImageFromArray(change(sitk.GetArrayFromImage(image)))
        changed.CopyInformation(image)
        return changed

    rewrite_image(path, apply)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {
        p.relative_to(root).as_posix(): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- good data
@pytest.mark.parametrize("fmt", ["acdc", "lvsc"])
def test_good_dataset_passes_and_is_left_untouched(
    fmt: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root: Path = request.getfixturevalue(f"{fmt}_root")
    before = snapshot(root)
    report_path = tmp_path / "report.json"
    assert main(["check-data", "--format", fmt, str(root), "-o", str(report_path)]) == 0
    assert "3 cases" in capsys.readouterr().out
    assert snapshot(root) == before  # same bytes, same modification times

    report = json.loads(report_path.read_text())
    assert report["ok"] is True and report["problems"] == [] and report["n_cases"] == 3
    case_dirs = {p.name for p in root.rglob("*") if p.is_dir() and p.name[:3] in ("pat", "DET")}
    assert sorted(c["id"] for c in report["cases"]) == sorted(case_dirs)
    image_files = {k for k in before if k.lower().endswith((".nii.gz", ".dcm", ".png", ".cfg"))}
    assert set(report["manifest"]) == image_files
    for name, digest in report["manifest"].items():
        assert digest == before[name][1]
    labelled = [c for c in report["cases"] if c["split"] == "training"]
    for case in labelled:
        assert set(case["phases"]) == {"ED", "ES"}
        for phase in case["phases"].values():
            assert len(phase["shape"]) == 3 and len(phase["spacing"]) == 3
            assert set(phase["label_values"]) <= {0, 1, 2, 3}
    assert all(lo <= hi for lo, hi in report["spacing_ranges"].values())


def test_acdc_report_matches_info_cfg(acdc_root: Path) -> None:
    report = check_dataset("acdc", acdc_root)
    assert report.groups() == {"MINF": 1, "NOR": 1, "DCM": 1}  # testing/ has Group too
    for case in report.cases:
        cfg = (acdc_root / case["split"] / case["id"] / "Info.cfg").read_text()
        assert f"ED: {case['ed_frame']}\n" in cfg and f"ES: {case['es_frame']}\n" in cfg
        assert f"NbFrame: {case['n_frames']}\n" in cfg


def test_lvsc_report_has_no_groups_rather_than_unknown(lvsc_root: Path) -> None:
    report = check_dataset("lvsc", lvsc_root)
    assert report.cases and all(case["group"] is None for case in report.cases)
    assert report.groups() == {} and report.to_dict()["groups"] == {}
    assert "no groups" in report.summary() and "unknown" not in report.summary()


def test_a_case_without_group_among_grouped_ones_is_unknown(acdc_root: Path) -> None:
    report = check_dataset("acdc", acdc_root)
    report.cases[0]["group"] = None  # e.g. an Info.cfg without Group
    assert report.groups()["unknown"] == 1 and "groups: " in report.summary()


# --------------------------------------------------------------------------- ACDC damage
def _acdc_missing_gt(root: Path) -> tuple[str, ...]:
    (root / P1 / "patient001_frame01_gt.nii.gz").unlink()
    return "patient001_frame01_gt.nii.gz", "missing"


def _acdc_truncated_image(root: Path) -> tuple[str, ...]:
    truncate(root / P1 / "patient001_frame01.nii.gz")
    return "patient001_frame01.nii.gz", "corrupt"


def _acdc_truncated_cine(root: Path) -> tuple[str, ...]:
    truncate(root / P1 / "patient001_4d.nii.gz")
    return "patient001_4d.nii.gz", "corrupt"


def _acdc_label_shape(root: Path) -> tuple[str, ...]:
    rewrite_image(root / P1 / "patient001_frame01_gt.nii.gz", lambda im: im[:-1, :, :])
    return "patient001_frame01_gt.nii.gz", "size"


def _acdc_label_geometry(attribute: str) -> Callable[[Path], tuple[str, ...]]:
    def change(image: sitk.Image) -> sitk.Image:
        if attribute == "spacing":
            image.SetSpacing([s * 1.5 for s in image.GetSpacing()])
        elif attribute == "origin":
            image.SetOrigin([o + 5.0 for o in image.GetOrigin()])
        else:
            image.SetDirection((1, 0, 0, 0, 0, 1, 0, -1, 0))
        return image

    def breaker(root: Path) -> tuple[str, ...]:
        rewrite_image(root / P1 / "patient001_frame01_gt.nii.gz", change)
        return "patient001_frame01_gt.nii.gz", "geometry mismatch", attribute

    return breaker


def _acdc_label_values(root: Path) -> tuple[str, ...]:
    def add_seven(labels: np.ndarray) -> np.ndarray:
        labels[0, 0, 0] = 7
        return labels

    rewrite_array(root / P1 / "patient001_frame01_gt.nii.gz", add_seven)
    return "patient001_frame01_gt.nii.gz", "label values [7]"


def _acdc_nan(root: Path) -> tuple[str, ...]:
    def add_nan(pixels: np.ndarray) -> np.ndarray:
        pixels = pixels.astype(np.float32)
        pixels[1, 2, 3] = np.nan
        pixels[1, 2, 4] = np.inf
        return pixels

    rewrite_array(root / P1 / "patient001_frame01.nii.gz", add_nan)
    return "patient001_frame01.nii.gz", "2 NaN/inf"


def _acdc_info_line(key: str, value: str | None) -> Callable[[Path], tuple[str, ...]]:
    def breaker(root: Path) -> tuple[str, ...]:
        cfg = root / P1 / "Info.cfg"
        lines = [ln for ln in cfg.read_text().splitlines() if not ln.startswith(f"{key}:")]
        if value is not None:
            lines.append(f"{key}: {value}")
        cfg.write_text("\n".join(lines) + "\n")
        return ("Info.cfg", f"{key} missing") if value is None else ("Info.cfg", "outside 1..")

    return breaker


def _acdc_duplicate_id(root: Path) -> tuple[str, ...]:
    shutil.copytree(root / P1, root / "testing" / "patient001")
    return "testing/patient001", "duplicate case id"


ACDC_DAMAGE = {
    "missing_gt": _acdc_missing_gt,
    "truncated_frame": _acdc_truncated_image,
    "truncated_cine": _acdc_truncated_cine,
    "label_shape": _acdc_label_shape,
    "label_spacing": _acdc_label_geometry("spacing"),
    "label_origin": _acdc_label_geometry("origin"),
    "label_direction": _acdc_label_geometry("direction"),
    "label_values": _acdc_label_values,
    "nan_intensities": _acdc_nan,
    "ed_missing": _acdc_info_line("ED", None),
    "es_out_of_range": _acdc_info_line("ES", "99"),
    "duplicate_id": _acdc_duplicate_id,
}


@pytest.mark.parametrize("damage", list(ACDC_DAMAGE))
def test_acdc_damage_is_reported(
    damage: str, acdc_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file_name, *words = ACDC_DAMAGE[damage](acdc_copy)
    status, problems = run_check("acdc", acdc_copy, capsys)
    assert status == 1
    assert_reported(problems, file_name, *words)


# --------------------------------------------------------------------------- LVSC damage
def _lvsc_truncated_dicom(root: Path) -> tuple[str, ...]:
    truncate(root / DET / "DET0000101_SA2_ph1.dcm")
    return "DET0000101_SA2_ph1.dcm", "corrupt"


def _lvsc_mask_not_binary(root: Path) -> tuple[str, ...]:
    mask = root / DET / "DET0000101_SA2_ph1.png"
    pixels = sitk.GetArrayFromImage(sitk.ReadImage(str(mask)))
    pixels[0, :3] = [0, 128, 255]
    sitk.WriteImage(sitk.GetImageFromArray(pixels), str(mask))
    return "DET0000101_SA2_ph1.png", "not binary", "128"


def _lvsc_mask_shape(root: Path) -> tuple[str, ...]:
    mask = root / DET / "DET0000101_SA2_ph1.png"
    pixels = sitk.GetArrayFromImage(sitk.ReadImage(str(mask)))
    sitk.WriteImage(sitk.GetImageFromArray(pixels[:-2]), str(mask))
    return "DET0000101_SA2_ph1.png", "shape"


def _lvsc_missing_mask(root: Path) -> tuple[str, ...]:
    (root / DET / "DET0000101_SA2_ph1.png").unlink()
    return "DET0000101_SA2_ph1.dcm", "missing mask"


def _lvsc_missing_consensus_mask(root: Path) -> tuple[str, ...]:
    (root / "consensus" / "DET0000103" / "DET0000103_SA1_ph0.png").unlink()
    return "validation/DET0000103/DET0000103_SA1_ph0.dcm", "missing mask"


def _lvsc_duplicate_id(root: Path) -> tuple[str, ...]:
    shutil.copytree(root / DET, root / "validation" / DET)
    return "validation/DET0000101", "duplicate case id"


LVSC_DAMAGE = {
    "truncated_dicom": _lvsc_truncated_dicom,
    "mask_not_binary": _lvsc_mask_not_binary,
    "mask_shape": _lvsc_mask_shape,
    "missing_mask": _lvsc_missing_mask,
    "missing_consensus_mask": _lvsc_missing_consensus_mask,
    "duplicate_id": _lvsc_duplicate_id,
}


@pytest.mark.parametrize("damage", list(LVSC_DAMAGE))
def test_lvsc_damage_is_reported(
    damage: str, lvsc_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file_name, *words = LVSC_DAMAGE[damage](lvsc_copy)
    status, problems = run_check("lvsc", lvsc_copy, capsys)
    assert status == 1
    assert_reported(problems, file_name, *words)


# --------------------------------------------------------------------------- whole-folder problems
@pytest.mark.parametrize(("fmt", "url"), [("acdc", "creatis"), ("lvsc", "cardiacatlas.org")])
def test_missing_root_says_where_to_get_the_data(
    fmt: str, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, problems = run_check(fmt, tmp_path / "absent", capsys)
    assert status == 1
    assert_reported(problems, str(tmp_path / "absent"), "not found", url)


@pytest.mark.parametrize("fmt", ["acdc", "lvsc"])
def test_empty_dataset_is_a_problem(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / fmt
    (root / "training").mkdir(parents=True)
    (root / "MANDATORY_CITATION.md").write_text("cite")
    status, problems = run_check(fmt, root, capsys)
    assert status == 1
    assert_reported(problems, str(root), "empty dataset")


def test_every_problem_is_reported(acdc_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _acdc_label_values(acdc_copy)
    (acdc_copy / "training" / "patient002" / "patient002_4d.nii.gz").unlink()
    status, problems = run_check("acdc", acdc_copy, capsys)
    assert status == 1
    assert_reported(problems, "patient001_frame01_gt.nii.gz", "label values")
    assert_reported(problems, "patient002", "missing patient002_4d.nii.gz")
    assert len(problems) == 2


def test_lvsc_every_problem_is_reported(lvsc_copy: Path) -> None:
    _lvsc_truncated_dicom(lvsc_copy)
    (lvsc_copy / "DET0000102" / "DET0000102_SA1_ph0.png").unlink()
    report = check_dataset("lvsc", lvsc_copy)
    assert not report.ok
    assert_reported(report.problems, "DET0000101_SA2_ph1.dcm", "corrupt")
    assert_reported(report.problems, "DET0000102_SA1_ph0.dcm", "missing mask")
    assert len(report.problems) == 2, report.problems
    assert report.to_dict()["problems"] == report.problems


def test_unreadable_file_is_reported(acdc_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A folder where the image file should be cannot be read by anyone, root included (CI runs as
    # root, for whom file permissions do not stop reads).
    target = acdc_copy / P1 / "patient001_frame01.nii.gz"
    target.unlink()
    target.mkdir()
    status, problems = run_check("acdc", acdc_copy, capsys)
    assert status == 1
    assert_reported(problems, "patient001_frame01.nii.gz", "unreadable")
