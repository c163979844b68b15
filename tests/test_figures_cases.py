"""Figs. 1 and S1: which case is shown, the geometry of the reformats, and the files written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from dmr.datasets import read_dataset
from dmr.errors import InputError
from dmr.figures import cases
from dmr.figures.io import figure_paths


def _metrics(dice_by_case: dict[str, float], model: str = "unet-dmr") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"dataset": "acdc", "model": model, "fold": i % 2, "case": case, "group": "NOR",
             "phase": phase, "structure": s, "dice": d if phase == "ED" else 1.0 - d}
            for i, (case, d) in enumerate(dice_by_case.items())
            for phase in ("ED", "ES")
            for s in ("rv", "myo", "lv")
        ]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("dice_by_case", "expected"),
    [
        ({"a": 0.9, "b": 0.5, "c": 0.7}, "c"),  # odd: the middle one
        ({"a": 0.9, "b": 0.5, "c": 0.7, "d": 0.8}, "c"),  # even: the lower middle one
        ({"b": 0.7, "a": 0.7, "c": 0.7}, "b"),  # ties: by case id
    ],
)
def test_case_is_the_median_dice_ed_volume(dice_by_case: dict, expected: str) -> None:
    chosen = cases.select_case(_metrics(dice_by_case))
    assert chosen["case"] == expected
    assert chosen["phase"] == "ED" and chosen["dice"] == pytest.approx(dice_by_case[expected])
    assert chosen["n"] == len(dice_by_case)


def test_case_selection_needs_one_model() -> None:
    both = pd.concat([_metrics({"a": 0.5}), _metrics({"a": 0.5}, "unet-base")])
    with pytest.raises(InputError, match="one model"):
        cases.select_case(both)


def test_isotropic_resampling_keeps_the_field_of_view() -> None:
    image = sitk.Image([20, 16, 4], sitk.sitkFloat32)
    image.SetSpacing([1.5, 1.5, 9.0])
    image.SetOrigin([10.0, -5.0, 3.0])
    iso = cases.isotropic(image, 1.5, sitk.sitkLinear)
    assert iso.GetSize() == (20, 16, 24)
    assert iso.GetSpacing() == (1.5, 1.5, 1.5)
    # The outer edge of the first slab stays: origin z moves by half the change of spacing.
    assert iso.GetOrigin() == pytest.approx((10.0, -5.0, 3.0 - 3.75))


def _predictions(acdc_root: Path, folder: Path, shift: int) -> None:
    """Every case's reference, shifted ``shift`` voxels in x, as its 'prediction'."""
    folder.mkdir()
    for case in read_dataset("acdc", acdc_root):
        for phase in ("ED", "ES"):
            label = case.load_phase(phase).label
            moved = sitk.GetImageFromArray(np.roll(sitk.GetArrayFromImage(label), shift, axis=2))
            moved.CopyInformation(label)
            sitk.WriteImage(moved, str(folder / f"{case.case_id}_{phase}.nii.gz"))


def test_case_figures_write_png_and_pdf(acdc_root: Path, tmp_path: Path) -> None:
    metrics_csv = tmp_path / "unet-dmr.csv"
    _metrics({"patient001": 0.8, "patient002": 0.6}).to_csv(metrics_csv, index=False)
    _predictions(acdc_root, tmp_path / "dmr", 0)
    _predictions(acdc_root, tmp_path / "base", 2)
    chosen = cases.write_case_views(
        "acdc", acdc_root, metrics_csv, tmp_path / "dmr", tmp_path / "fig1"
    )
    assert chosen["case"] == "patient002"
    cases.write_all_models(
        "acdc",
        acdc_root,
        metrics_csv,
        {"unet-dmr": tmp_path / "dmr", "unet-base": tmp_path / "base"},
        tmp_path / "figS1",
    )
    for name in ("fig1", "figS1"):
        paths = figure_paths(tmp_path / name)
        assert paths["png"].stat().st_size > 20_000 and paths["pdf"].stat().st_size > 5_000
        assert not paths["csv"].exists()


def test_missing_prediction_names_the_file(acdc_root: Path, tmp_path: Path) -> None:
    metrics_csv = tmp_path / "unet-dmr.csv"
    _metrics({"patient001": 0.8}).to_csv(metrics_csv, index=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"patient001_ED.nii.gz: prediction of unet-dmr"):
        cases.write_case_views("acdc", acdc_root, metrics_csv, tmp_path / "empty", tmp_path / "f")
