"""Evaluation drivers on NIfTI files written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from dmr import cli
from dmr.errors import DatasetError, InputError
from dmr.evaluation.evaluate import evaluate_cross_validation, evaluate_folders, parse_model_name

SPACING_XYZ = (1.5, 1.25, 8.0)


def _labels(shift: int = 0) -> np.ndarray:
    """(Z, Y, X) label map with RV, myocardium ring and LV on the middle slices."""
    labels = np.zeros((5, 16, 16), np.uint8)
    labels[1:4, 4:12, 6 + shift : 14 + shift] = 2
    labels[1:4, 6:10, 8 + shift : 12 + shift] = 3
    labels[1:4, 5:11, 1:5] = 1
    return labels


def _image(array: np.ndarray, spacing=SPACING_XYZ, origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


def _write(path: Path, array: np.ndarray, **geometry) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(_image(array, **geometry), str(path))
    return path


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    _write(gt / "a.nii.gz", _labels())
    _write(pred / "a.nii.gz", _labels())
    _write(gt / "b.nii", _labels())
    _write(pred / "b.nii", _labels(shift=1))
    return gt, pred


# --------------------------------------------------------------------------- folders
def test_evaluate_folders_happy_path(folders: tuple[Path, Path]) -> None:
    table = evaluate_folders(*folders)
    assert list(table.columns) == [
        "case",
        "structure",
        "dice",
        "jaccard",
        "msd_mm",
        "hd_mm",
        "volume_gt_ml",
        "volume_pred_ml",
    ]
    assert table[["case", "structure"]].values.tolist() == [
        ["a", "rv"],
        ["a", "myo"],
        ["a", "lv"],
        ["b", "rv"],
        ["b", "myo"],
        ["b", "lv"],
    ]
    perfect = table[table["case"] == "a"]
    assert (perfect["dice"] == 1.0).all() and (perfect["hd_mm"] == 0.0).all()
    lv_b = table[(table["case"] == "b") & (table["structure"] == "lv")].iloc[0]
    # LV moved one voxel along x (1.5 mm): HD is that shift in mm, volumes unchanged.
    assert lv_b["hd_mm"] == pytest.approx(SPACING_XYZ[0])
    assert lv_b["volume_gt_ml"] == pytest.approx(3 * 4 * 4 * 1.5 * 1.25 * 8.0 / 1000)
    assert lv_b["volume_pred_ml"] == pytest.approx(lv_b["volume_gt_ml"])
    assert lv_b["dice"] == pytest.approx(2 * 3 * 4 * 3 / (2 * 3 * 4 * 4))


def test_missing_partners_are_all_listed(folders: tuple[Path, Path]) -> None:
    gt, pred = folders
    (pred / "a.nii.gz").unlink()
    _write(pred / "extra.nii.gz", _labels())
    with pytest.raises(InputError) as info:
        evaluate_folders(gt, pred)
    assert "a.nii.gz" in str(info.value) and "extra.nii.gz" in str(info.value)


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        ("shape", "size"),
        ("spacing", "spacing"),
        ("origin", "origin"),
        ("labels", "label values"),
        ("2d", "3-D"),
        ("unreadable", "unreadable"),
    ],
)
def test_bad_prediction_names_the_file(
    folders: tuple[Path, Path], problem: str, expected: str
) -> None:
    gt, pred = folders
    target = pred / "b.nii"
    if problem == "shape":
        _write(target, _labels()[:4])
    elif problem == "spacing":
        _write(target, _labels(), spacing=(1.5, 1.25, 10.0))
    elif problem == "origin":
        _write(target, _labels(), origin=(0.0, 2.0, 0.0))
    elif problem == "labels":
        bad = _labels()
        bad[0, 0, 0] = 5
        _write(target, bad)
    elif problem == "2d":
        sitk.WriteImage(sitk.GetImageFromArray(_labels()[2]), str(target))
    else:
        target.write_bytes(b"not a nifti file")
    with pytest.raises(InputError, match=expected) as info:
        evaluate_folders(gt, pred)
    assert str(target) in str(info.value)


def test_geometry_within_float32_tolerance_is_accepted(folders: tuple[Path, Path]) -> None:
    gt, pred = folders
    _write(pred / "b.nii", _labels(), spacing=(1.5 + 1e-7, 1.25, 8.0))
    assert len(evaluate_folders(gt, pred)) == 6


def test_empty_or_missing_folder(tmp_path: Path, folders: tuple[Path, Path]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no reference NIfTI"):
        evaluate_folders(empty, folders[1])
    with pytest.raises(InputError, match="does not exist"):
        evaluate_folders(tmp_path / "absent", folders[1])


def test_cli_evaluate_writes_csv(folders: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "metrics.csv"
    assert cli.main(["evaluate", str(folders[0]), str(folders[1]), "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == 6
    (folders[1] / "a.nii.gz").unlink()
    assert cli.main(["evaluate", str(folders[0]), str(folders[1]), "-o", str(out)]) == 1
    assert "a.nii.gz" in capsys.readouterr().err


# --------------------------------------------------------------------------- cross-validation
def _acdc_case(root: Path, case: str, group: str, shift: int) -> None:
    folder = root / "training" / case
    folder.mkdir(parents=True)
    (folder / "Info.cfg").write_text(f"ED: 1\nES: 2\nGroup: {group}\nNbFrame: 2\n")
    for frame, labels in ((1, _labels()), (2, _labels(shift=shift))):
        _write(folder / f"{case}_frame{frame:02d}.nii.gz", labels.astype(np.int16) * 100)
        _write(folder / f"{case}_frame{frame:02d}_gt.nii.gz", labels)


@pytest.fixture
def cross_validation(tmp_path: Path) -> dict[str, Path]:
    raw, predictions = tmp_path / "raw", tmp_path / "pred"
    _acdc_case(raw, "patient001", "NOR", shift=0)
    _acdc_case(raw, "patient002", "DCM", shift=1)
    folds = pd.DataFrame(
        [
            (0, "patient001", "NOR", "test"),
            (0, "patient002", "DCM", "train"),
            (1, "patient001", "NOR", "train"),
            (1, "patient002", "DCM", "test"),
        ],
        columns=["fold", "case", "group", "split"],
    )
    folds_csv = tmp_path / "folds.csv"
    folds.to_csv(folds_csv, index=False)
    _write(predictions / "patient001_ED.nii.gz", _labels())
    _write(predictions / "patient001_ES.nii.gz", _labels())
    _write(predictions / "patient002_ED.nii.gz", _labels())
    _write(predictions / "patient002_ES.nii.gz", _labels())  # reference ES is shifted
    return {"raw": raw, "predictions": predictions, "folds": folds_csv}


def test_evaluate_cross_validation_tables(cross_validation: dict[str, Path]) -> None:
    result = evaluate_cross_validation(
        "acdc",
        cross_validation["raw"],
        predictions=cross_validation["predictions"],
        folds_csv=cross_validation["folds"],
        dataset="acdc",
        model="unet-dmr_fixed",
        density=1.06,
    )
    metrics = result.metrics
    assert len(metrics) == 2 * 2 * 3
    assert set(metrics["arch"]) == {"unet"} and set(metrics["variant"]) == {"dmr_fixed"}
    by_case = metrics.set_index(["case", "phase", "structure"])
    assert by_case.loc[("patient001", "ES", "lv"), "fold"] == 0
    assert by_case.loc[("patient002", "ES", "lv"), "fold"] == 1
    assert by_case.loc[("patient002", "ES", "lv"), "group"] == "DCM"
    assert by_case.loc[("patient001", "ES", "lv"), "dice"] == 1.0
    assert by_case.loc[("patient002", "ES", "lv"), "hd_mm"] == pytest.approx(SPACING_XYZ[0])

    slices = result.slices
    assert len(slices) == 2 * 2 * 3 * 5
    assert set(slices["region"]) <= {"apical", "mid", "basal"}
    assert {"slice", "tp", "fp", "fn", "tn", "dice"} <= set(slices.columns)
    lv_es = slices[(slices["case"] == "patient002") & (slices["phase"] == "ES")]
    lv_es = lv_es[lv_es["structure"] == "lv"]
    assert lv_es["tp"].sum() + lv_es["fn"].sum() == (_labels(shift=1) == 3).sum()

    clinical = result.clinical.set_index(["case", "quantity"])
    assert {"fold", "group", "dataset", "model"} <= set(result.clinical.columns)
    ef = clinical.loc[("patient001", "lv_ef_pct")]
    assert ef["reference"] == pytest.approx(0.0) and ef["prediction"] == pytest.approx(0.0)
    mass = clinical.loc[("patient002", "myo_mass_ed_g")]
    assert mass["reference"] == pytest.approx(
        by_case.loc[("patient002", "ED", "myo"), "volume_gt_ml"] * 1.06
    )


def test_missing_predictions_are_all_listed(cross_validation: dict[str, Path]) -> None:
    (cross_validation["predictions"] / "patient001_ES.nii.gz").unlink()
    (cross_validation["predictions"] / "patient002_ED.nii.gz").unlink()
    with pytest.raises(InputError, match="2 of 4") as info:
        evaluate_cross_validation(
            "acdc",
            cross_validation["raw"],
            predictions=cross_validation["predictions"],
            folds_csv=cross_validation["folds"],
            dataset="acdc",
            model="unet-base",
            density=1.06,
        )
    assert "patient001_ES.nii.gz" in str(info.value)
    assert "patient002_ED.nii.gz" in str(info.value)


def test_test_case_missing_from_dataset(cross_validation: dict[str, Path]) -> None:
    folds = pd.read_csv(cross_validation["folds"])
    folds.loc[len(folds)] = [2, "patient009", "HCM", "test"]
    folds.to_csv(cross_validation["folds"], index=False)
    with pytest.raises(DatasetError, match="patient009"):
        evaluate_cross_validation(
            "acdc",
            cross_validation["raw"],
            predictions=cross_validation["predictions"],
            folds_csv=cross_validation["folds"],
            dataset="acdc",
            model="unet-base",
            density=1.06,
        )


def test_parse_model_name() -> None:
    assert parse_model_name("usegnet-dmr_t5") == ("usegnet", "dmr_t5")
    for bad in ("unet", "resnet-dmr", "unet-"):
        with pytest.raises(InputError, match="arch"):
            parse_model_name(bad)


def test_cli_metrics_writes_three_tables(cross_validation: dict[str, Path], tmp_path: Path) -> None:
    out = {name: tmp_path / "out" / f"{name}.csv" for name in ("metrics", "slices", "clinical")}
    argv = [
        "metrics",
        "--format",
        "acdc",
        str(cross_validation["raw"]),
        "--predictions",
        str(cross_validation["predictions"]),
        "--folds",
        str(cross_validation["folds"]),
        "--dataset",
        "acdc",
        "--model",
        "segnet-base",
        "--slices",
        str(out["slices"]),
        "--clinical",
        str(out["clinical"]),
        "-o",
        str(out["metrics"]),
    ]
    assert cli.main(argv) == 0
    metrics = pd.read_csv(out["metrics"])
    assert list(metrics.columns[:9]) == [
        "dataset",
        "model",
        "arch",
        "variant",
        "fold",
        "case",
        "group",
        "phase",
        "structure",
    ]
    assert len(pd.read_csv(out["slices"])) == 60 and len(pd.read_csv(out["clinical"])) == 16
