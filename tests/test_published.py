"""The paper's published numbers as data: counts per table, values typed from the paper, and the
loader's refusal of a corrupt file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from dmr.errors import InputError
from dmr.published import COLUMNS, load_published, published_path
from dmr.published.vocabulary import KEY

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return load_published()


def _one(frame: pd.DataFrame, **key: str) -> pd.Series:
    """The single published number matching ``key`` (phase/structure/region default to "")."""
    key = {"phase": "", "structure": "", "region": "", "dataset": "", **key}
    mask = pd.Series(True, index=frame.index)
    for name, value in key.items():
        mask &= frame[name] == value
    assert int(mask.sum()) == 1, f"{int(mask.sum())} rows match {key}"
    return frame.loc[mask].iloc[0]


def test_every_printed_number_is_there_once(published: pd.DataFrame) -> None:
    counts = published.groupby("table", sort=False).size().to_dict()
    assert counts == {
        "I": 6 * 6 + 3 * 2,  # six columns per network, plus the DMR rows' bracketed times
        "IIa": 4 * 6 * 2,
        "IIb": 3 * 6 * 3,  # LV EF, RV EF, mass: correlation, bias, LoA
        "III": 4 * 16,
        "IV": (4 + 1 + 2) * 6 * 2,
        "V": 8 * 10,
        "VIa": 48,
        "VIb": 48,
        "text": 4 * 2 + 4 + 3 * 2,  # abstract, learned sigmas, regional Jaccard
    }
    assert list(published.columns) == list(COLUMNS)
    assert not published.duplicated(list(KEY)).any()
    assert published[[*KEY, "printed", "marker", "note"]].notna().all().all()


def test_table2a_markers_sit_on_the_dmr_cells(published: pd.DataFrame) -> None:
    table = published[published["table"] == "IIa"]
    dmr = table["method"].str.endswith("-dmr")
    assert int(dmr.sum()) == 24
    assert (table.loc[~dmr, "marker"] == "").all()
    assert table.loc[dmr, "marker"].value_counts().to_dict() == {"**": 8, "*": 9, "": 7}
    assert set(table["structure"]) == {"mean"} and set(table["dataset"]) == {"acdc"}


def test_table5_has_eight_methods_with_mean_and_sd(published: pd.DataFrame) -> None:
    table = published[published["table"] == "V"]
    assert table.groupby("method").size().to_dict() == {
        m: 10 for m in ("AU", "CNR", "FCN", "DFCN", "unet-dmr", "AO", "SCR", "INR")
    }
    assert "SA (semi-automatic)" in table.loc[table["method"] == "AO", "note"].iloc[0]
    assert "FA (fully automatic)" in table.loc[table["method"] == "unet-dmr", "note"].iloc[0]


@pytest.mark.parametrize(
    ("key", "printed", "marker"),
    [
        ({"table": "IIa", "dataset": "acdc", "quantity": "dice_pct", "phase": "ES",
          "structure": "mean", "method": "unet-dmr"}, "88.8", "*"),
        ({"table": "IIa", "dataset": "acdc", "quantity": "jaccard_pct", "phase": "ED",
          "structure": "mean", "method": "segnet-dmr"}, "85.1", "**"),
        ({"table": "VIb", "dataset": "lvsc_to_acdc", "quantity": "msd_mm", "phase": "ES",
          "structure": "myo", "method": "unet-base"}, "10.97", ""),
        ({"table": "VIa", "dataset": "acdc_to_lvsc", "quantity": "hd_mm", "phase": "ED",
          "structure": "myo", "method": "usegnet-dmr"}, "20.33", "**"),
        ({"table": "IIb", "dataset": "acdc", "quantity": "ef_bias", "structure": "lv",
          "method": "usegnet-dmr"}, "-0.42", ""),
        ({"table": "IIb", "dataset": "acdc", "quantity": "ef_loa", "structure": "lv",
          "method": "usegnet-dmr"}, "9.24", ""),
        ({"table": "IIb", "dataset": "acdc", "quantity": "mass_r", "phase": "ED",
          "structure": "myo", "method": "unet-dmr"}, "0.978", ""),
        ({"table": "III", "dataset": "acdc", "quantity": "hd_mm", "phase": "ES",
          "structure": "rv", "method": "Isensee"}, "12.14", ""),
        ({"table": "III", "dataset": "acdc", "quantity": "mass_r", "phase": "ED",
          "structure": "myo", "method": "Baumgartner"}, "0.982", ""),
        ({"table": "III", "dataset": "acdc", "quantity": "ef_r", "structure": "rv",
          "method": "unet-dmr"}, "0.851", ""),
        ({"table": "IV", "dataset": "lvsc", "quantity": "hd_mm", "phase": "ES",
          "structure": "myo", "method": "usegnet-base"}, "12.71", "*"),
        ({"table": "IV", "dataset": "lvsc", "quantity": "mass_loa", "phase": "ED",
          "structure": "myo", "method": "unet-dmr"}, "29.92", ""),
        ({"table": "V", "dataset": "lvsc", "quantity": "specificity_mean", "structure": "myo",
          "method": "INR"}, "0.56", ""),
        ({"table": "V", "dataset": "lvsc", "quantity": "specificity_sd", "structure": "myo",
          "method": "INR"}, "0.15", ""),
        ({"table": "I", "dataset": "lvsc", "quantity": "test_ms_per_volume_regularized",
          "method": "unet-dmr"}, "97", ""),
        ({"table": "I", "dataset": "lvsc", "quantity": "train_min_per_epoch",
          "method": "unet-base"}, "15.50", ""),
        ({"table": "I", "quantity": "params_test_millions", "method": "segnet-dmr"}, "2.96", ""),
        ({"table": "text", "dataset": "lvsc", "quantity": "sigma_mad", "method": "unet-dmr"},
         "13", ""),
        ({"table": "text", "dataset": "lvsc", "quantity": "jaccard_sd", "structure": "myo",
          "region": "apical", "method": "unet-dmr"}, "0.18", ""),
        ({"table": "text", "dataset": "acdc", "quantity": "dice_mean", "structure": "mean",
          "method": "unet-dmr"}, "0.91", ""),
    ],
)  # fmt: skip
def test_spot_values_typed_from_the_paper(
    published: pd.DataFrame, key: dict[str, str], printed: str, marker: str
) -> None:
    row = _one(published, **key)
    assert (row["printed"], row["marker"]) == (printed, marker)
    assert row["value"] == float(printed)


def test_base_networks_have_no_bracketed_inference_time(published: pd.DataFrame) -> None:
    regularized = published[published["quantity"] == "test_ms_per_volume_regularized"]
    assert sorted(set(regularized["method"])) == ["segnet-dmr", "unet-dmr", "usegnet-dmr"]


def test_the_abstracts_cross_dataset_figures_are_unet_in_table6b(published: pd.DataFrame) -> None:
    """0.56 -> 0.80 is U-Net -> DMR-UNet pooled over ED and ES (no other network prints so)."""
    dice = published[(published["table"] == "VIb") & (published["quantity"] == "dice_pct")]
    pooled = dice.groupby("method")["value"].mean() / 100
    text = published[(published["table"] == "text") & (published["dataset"] == "lvsc_to_acdc")]
    for method in ("unet-base", "unet-dmr"):
        quoted = text.loc[(text["method"] == method) & (text["quantity"] == "dice_mean"), "value"]
        assert round(pooled[method], 2) == quoted.item()
    assert [m for m in pooled.index if round(pooled[m], 2) == 0.56] == ["unet-base"]


# --------------------------------------------------------------------------- corrupt copies
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"91.1 91.7** 91.5', '"91.1 91.7*** 91.5', "marker '***'"),
        ("method: Isensee", "method: Isensee2017", "'Isensee2017' is neither"),
        ("quantity: hd_mm\n      label: \"HD (mm)\"\n      cells: \"10.26",
         "quantity: hausdorff\n      label: \"HD (mm)\"\n      cells: \"10.26", "'hausdorff'"),
        ("12.61 10.96*", "12.61", "11 cells printed, the table has 12"),
        ("3.10 (32.94)", "3.10", "'mass_loa' number in brackets is missing"),
        ("- {phase: ES, method: unet-dmr}", "- {phase: ES, method: unet-base}", "share a key"),
        ("structure: mean,", "structure: septum,", "structure 'septum'"),
        ("0.56 (0.15)", "0.56 (O.15)", "cannot read a number"),
        ("\nVIb:", "\nVIc:", "missing ['VIb']"),
        ("  rows:\n    - {method: segnet-base", "  rows:\n  - {method: segnet-base",
         "cannot read the published numbers (while parsing"),
    ],
)  # fmt: skip
def test_a_corrupt_copy_is_refused_naming_the_file(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = published_path().read_text(encoding="utf-8")
    assert text.count(old) == 1, f"the test's anchor {old!r} is not unique in the data file"
    corrupt = tmp_path / "paper.yaml"
    corrupt.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_published(corrupt)
    assert message in str(error.value)
    assert str(corrupt) in str(error.value)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the published numbers"):
        load_published(tmp_path / "absent.yaml")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to copy the checkout")
def test_a_non_editable_wheel_ships_the_data_file(tmp_path: Path) -> None:
    """``pip install .`` (not ``-e``) must install paper.yaml, or load_published() fails, and
    the jinja2 templates, or the HTML tables and the report cannot be written."""
    pytest.importorskip("setuptools")
    source = tmp_path / "src"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "wheel"), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dmr/published/paper.yaml" in names
    assert {"dmr/tables/templates/table.html.j2", "dmr/report/templates/report.html.j2"} <= set(
        names
    )
