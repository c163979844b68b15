"""paper_vs_reproduced: the verdict rules on constructed cells, the claims, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from dmr.cli import main
from dmr.errors import InputError
from dmr.published import load_published
from dmr.published.cells import CELLS_COLUMNS, read_cells
from dmr.published.claims import (
    CLAIM_STATUSES,
    CONTRADICTED,
    HOLDS,
    INCONCLUSIVE,
    NOT_MEANINGFUL,
    NOT_RUN,
    direction_claims,
    threshold_claim,
    weighting_claim,
)
from dmr.published.compare import OUTPUT_COLUMNS, dataset_roles, paper_vs_reproduced
from dmr.published.vocabulary import KEY

NAN = float("nan")
#: Table II(a), ED Dice: SN 91.1, DMR SN 91.7** (printed in percent).
ED_DICE = {"table": "IIa", "dataset": "acdc", "quantity": "dice_pct", "phase": "ED",
           "structure": "mean", "region": ""}  # fmt: skip


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return load_published()


def cell(
    value: float,
    ci: tuple[float, float] = (NAN, NAN),
    marker: str = "",
    replicated: str | None = None,
    **key,
) -> dict:
    """One reproduced cell (contract of results/stats/<table>.csv); a significant cell
    replicates in both fold networks unless ``replicated`` says otherwise."""
    base = {"phase": "", "structure": "", "region": "", "dataset": ""}
    if replicated is None:
        replicated = "2/2" if marker else ""
    return {
        **base,
        **key,
        "value": value,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "n": 100,
        "p_value": NAN,
        "marker": marker,
        "replicated": replicated,
    }


def compare(published: pd.DataFrame, cells: list[dict], **kwargs) -> pd.DataFrame:
    frame = pd.DataFrame(cells, columns=[*CELLS_COLUMNS, "replicated"])
    return paper_vs_reproduced(published, frame, **kwargs)


def row(out: pd.DataFrame, **key) -> pd.Series:
    key = {"phase": "", "structure": "", "region": "", "dataset": "", **key}
    mask = (out[list(key)] == pd.Series(key)).all(axis=1)
    assert int(mask.sum()) == 1
    return out.loc[mask].iloc[0]


# --------------------------------------------------------------------------- value verdicts
@pytest.mark.parametrize(
    ("ci", "verdict"),
    [
        ((90.0, 92.0), "reproduced"),  # 91.1 inside
        ((91.1, 92.0), "reproduced"),  # at the CI's lower edge
        ((91.15, 92.0), "reproduced"),  # 91.1 stands for [91.05, 91.15]: the edge of rounding
        ((91.16, 92.0), "differs"),  # beyond the rounding half unit
        ((89.0, 91.04), "differs"),
        ((89.0, 91.05), "reproduced"),
    ],
)
def test_a_published_value_inside_our_ci_is_reproduced(
    published: pd.DataFrame, ci: tuple[float, float], verdict: str
) -> None:
    out = compare(published, [cell(91.5, ci, method="segnet-base", **ED_DICE)])
    got = row(out, method="segnet-base", **ED_DICE)
    assert got["verdict"] == verdict
    assert got["published"] == 91.1 and got["reproduced"] == 91.5
    assert got["difference"] == pytest.approx(0.4)


@pytest.mark.parametrize(("value", "verdict"), [(2.957, "reproduced"), (2.966, "differs")])
def test_without_a_ci_our_value_must_print_as_the_papers(
    published: pd.DataFrame, value: float, verdict: str
) -> None:
    key = {"table": "I", "quantity": "params_train_millions", "method": "segnet-base"}
    out = compare(published, [cell(value, **key)], phantom_datasets=["acdc", "lvsc"])
    # Parameter counts do not depend on the data, so phantoms do not make them incomparable.
    assert row(out, **key)["verdict"] == verdict


def test_timings_are_not_comparable_across_hardware(published: pd.DataFrame) -> None:
    key = {"table": "I", "dataset": "acdc", "quantity": "train_min_per_epoch"}
    out = compare(published, [cell(2.49, (2.0, 3.0), method="unet-dmr", **key)])
    assert row(out, method="unet-dmr", **key)["verdict"] == "not comparable (hardware)"


def test_missing_other_methods_nan_and_phantom_cells(published: pd.DataFrame) -> None:
    table5 = {"table": "V", "dataset": "lvsc", "quantity": "jaccard_mean", "structure": "myo"}
    out = compare(
        published,
        [
            cell(0.7, (0.6, 0.8), method="unet-dmr", **table5),
            cell(NAN, method="unet-base", **ED_DICE),
        ],
        phantom_datasets=["lvsc"],
    )
    assert row(out, method="unet-dmr", **table5)["verdict"] == "not comparable (phantoms)"
    assert row(out, method="AU", **table5)["verdict"] == "published only"
    assert row(out, method="unet-base", **ED_DICE)["verdict"] == "undefined"
    assert row(out, method="segnet-base", **ED_DICE)["verdict"] == "not run"


def test_a_cross_dataset_cell_is_phantom_when_either_dataset_is(published: pd.DataFrame) -> None:
    key = {"table": "VIa", "dataset": "acdc_to_lvsc", "quantity": "msd_mm", "phase": "ES",
           "structure": "myo"}  # fmt: skip
    cells = [cell(3.56, (3.0, 4.0), method="segnet-base", **key)]
    out = compare(published, cells, phantom_datasets=["lvsc"])
    assert row(out, method="segnet-base", **key)["verdict"] == "not comparable (phantoms)"
    out = compare(published, cells, phantom_datasets=[])
    assert row(out, method="segnet-base", **key)["verdict"] == "reproduced"


def test_config_dataset_names_are_mapped_to_the_papers_roles(published: pd.DataFrame) -> None:
    key = {**ED_DICE, "method": "segnet-base"}
    cells = [cell(91.1, (90.0, 92.0), **{**key, "dataset": "acdc_real"})]
    out = compare(published, cells, roles=dataset_roles("acdc_real", "lvsc_real"))
    got = row(out, **key)
    assert (got["verdict"], got["reproduced_dataset"]) == ("reproduced", "acdc_real")


# --------------------------------------------------------------------------- directions
def test_phantom_dmr_cells_get_the_direction_verdict(published: pd.DataFrame) -> None:
    es_hd = {**ED_DICE, "quantity": "hd_mm", "phase": "ES"}  # SN 11.33, DMR SN 10.31*
    cells = [
        cell(80.0, method="segnet-base", **ED_DICE),
        cell(81.0, method="segnet-dmr", marker="**", **ED_DICE),  # better, as in the paper
        cell(20.0, method="segnet-base", **es_hd),
        cell(21.0, method="segnet-dmr", **es_hd),  # worse, unlike the paper
    ]
    out = compare(published, cells, phantom_datasets=["acdc"])
    dice = row(out, method="segnet-dmr", **ED_DICE)
    assert (dice["verdict"], dice["direction_verdict"]) == ("direction reproduced",) * 2
    assert (dice["published_direction"], dice["reproduced_direction"]) == ("better", "better")
    assert dice["marker_verdict"] == "marker reproduced"  # ** and **
    assert (dice["base_published"], dice["base_reproduced"]) == (91.1, 80.0)
    hd = row(out, method="segnet-dmr", **es_hd)
    assert hd["verdict"] == "direction differs"
    assert hd["reproduced_direction"] == "worse"
    assert hd["marker_verdict"] == "marker differs"  # paper *, ours none
    assert row(out, method="segnet-base", **es_hd)["verdict"] == "not comparable (phantoms)"


def test_on_real_data_the_value_verdict_stays_and_the_direction_is_extra(
    published: pd.DataFrame,
) -> None:
    cells = [
        cell(91.0, (90.5, 91.5), method="segnet-base", **ED_DICE),
        cell(90.0, (89.5, 90.5), method="segnet-dmr", marker="*", **ED_DICE),
    ]
    got = row(compare(published, cells), method="segnet-dmr", **ED_DICE)
    assert (got["verdict"], got["direction_verdict"]) == ("differs", "direction differs")
    assert got["marker_verdict"] == "marker differs"


def test_a_dmr_cell_without_our_baseline_has_no_direction(published: pd.DataFrame) -> None:
    cells = [cell(81.0, method="segnet-dmr", **ED_DICE)]
    got = row(compare(published, cells, phantom_datasets=["acdc"]), method="segnet-dmr", **ED_DICE)
    assert got["direction_verdict"] == "not run"
    assert got["verdict"] == "not comparable (phantoms)"


def test_a_smaller_absolute_bias_is_better(published: pd.DataFrame) -> None:
    # Table II(b) LV EF bias: USN 0.58, DMR USN -0.42 (better: |-0.42| < 0.58).
    key = {"table": "IIb", "dataset": "acdc", "quantity": "ef_bias", "structure": "lv"}
    cells = [cell(0.5, method="usegnet-base", **key), cell(-0.6, method="usegnet-dmr", **key)]
    got = row(compare(published, cells, phantom_datasets=["acdc"]), method="usegnet-dmr", **key)
    assert (got["published_direction"], got["reproduced_direction"]) == ("better", "worse")


def test_table4s_marker_on_the_baseline_belongs_to_the_pair(published: pd.DataFrame) -> None:
    # Table IV ES HD: USN 12.71*, DMR USN 13.71: DMR significantly worse.
    key = {"table": "IV", "dataset": "lvsc", "quantity": "hd_mm", "phase": "ES",
           "structure": "myo"}  # fmt: skip
    cells = [cell(12.0, method="usegnet-base", **key),
             cell(13.0, method="usegnet-dmr", marker="*", **key)]  # fmt: skip
    got = row(compare(published, cells, phantom_datasets=["lvsc"]), method="usegnet-dmr", **key)
    assert got["published_marker"] == ""
    assert (got["verdict"], got["marker_verdict"]) == ("direction reproduced", "marker reproduced")


def test_directions_are_compared_at_the_printed_precision(published: pd.DataFrame) -> None:
    # Table IV ES HD: SN 12.96, DMR SN 12.96 (equal as printed).
    key = {"table": "IV", "dataset": "lvsc", "quantity": "hd_mm", "phase": "ES",
           "structure": "myo"}  # fmt: skip
    cells = [cell(12.001, method="segnet-base", **key),
             cell(12.004, method="segnet-dmr", **key)]  # fmt: skip
    got = row(compare(published, cells, phantom_datasets=["lvsc"]), method="segnet-dmr", **key)
    assert (got["published_direction"], got["reproduced_direction"]) == ("equal", "equal")
    assert got["verdict"] == "direction reproduced"


# --------------------------------------------------------------------------- every row once
def test_every_published_number_appears_exactly_once(published: pd.DataFrame) -> None:
    cells = [
        cell(91.5, (90.0, 92.0), method="segnet-base", **ED_DICE),
        cell(0.5, method="unet-dmr_fixed", **ED_DICE),
    ]  # fmt: skip  (no published key)
    out = compare(published, cells)
    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert len(out) == len(published)
    pd.testing.assert_frame_equal(out[list(KEY)], published[list(KEY)])
    assert out["verdict"].ne("").all()
    assert math.isnan(row(out, method="unet-dmr", **ED_DICE)["reproduced"])


def test_several_seeds_make_a_band_and_unexplained_duplicates_are_refused(
    published: pd.DataFrame, tmp_path: Path
) -> None:
    seeds = pd.DataFrame(
        [
            {**cell(90.9, (90.8, 91.0), marker="**", method="segnet-base", **ED_DICE), "seed": 0},
            {**cell(91.3, (91.2, 91.4), marker="*", method="segnet-base", **ED_DICE), "seed": 1},
        ]
    )
    out = paper_vs_reproduced(published, seeds)
    got = row(out, method="segnet-base", **ED_DICE)
    # 91.1 is in neither seed's CI but in the seeds' band [90.8, 91.4].
    assert (got["verdict"], got["n_seeds"], got["reproduced_marker"]) == ("reproduced", 2, "*")
    assert got["reproduced"] == pytest.approx(91.1)
    path = tmp_path / "table2a.csv"
    seeds.drop(columns="seed").to_csv(path, index=False)
    cells, _ = read_cells([path])
    with pytest.raises(InputError, match=r"table2a\.csv: several cells share the key"):
        paper_vs_reproduced(published, cells)


def test_read_cells_allows_missing_files_and_refuses_bad_ones(tmp_path: Path) -> None:
    good = tmp_path / "table2a.csv"
    pd.DataFrame([cell(91.5, method="segnet-base", **ED_DICE)]).to_csv(good, index=False)
    cells, missing = read_cells([good, tmp_path / "table4.csv"])
    assert missing == [tmp_path / "table4.csv"]
    assert (cells.loc[0, "phase"], cells.loc[0, "region"]) == ("ED", "")  # "" not NaN
    bad = tmp_path / "table1.csv"
    params = {"table": "I", "quantity": "params_train_millions", "method": "segnet-base"}
    pd.DataFrame([cell(1.0, **params)]).drop(columns="ci_high").to_csv(bad)
    with pytest.raises(
        InputError, match=r"table1.csv: cells table lacks column\(s\) \['ci_high'\]"
    ):
        read_cells([bad])
    pd.DataFrame([cell(1.0, marker="***", **params)]).to_csv(bad, index=False)
    with pytest.raises(InputError, match=r"table1\.csv: row 2: marker"):
        read_cells([bad])


# --------------------------------------------------------------------------- claims
def _table2a(published: pd.DataFrame, dmr: list[tuple[float, str]]) -> dict:
    """Claims of a run with SegNet and DMR-SegNet ED, ES Dice and ES HD cells in Table II(a):
    the baseline at 80 % / 20 mm, DMR at the given (value, marker) in that order."""
    es_hd = {**ED_DICE, "quantity": "hd_mm", "phase": "ES"}
    es_dice = {**ED_DICE, "phase": "ES"}
    keys = [ED_DICE, es_dice, es_hd]
    cells = [cell(20.0 if k is es_hd else 80.0, method="segnet-base", **k) for k in keys]
    cells += [
        cell(value, marker=marker, method="segnet-dmr", **k)
        for (value, marker), k in zip(dmr, keys, strict=True)
    ]
    claims = direction_claims(compare(published, cells, phantom_datasets=["acdc"]))
    return {c.name: c for c in claims}


def test_a_significant_cell_counts_only_when_it_replicates_in_every_fold_network(
    published: pd.DataFrame,
) -> None:
    cells = [
        cell(80.0, method="segnet-base", **ED_DICE),
        cell(81.0, marker="**", replicated="1/2", method="segnet-dmr", **ED_DICE),
    ]
    claim = direction_claims(compare(published, cells, phantom_datasets=["acdc"]))[0]
    assert claim.status == INCONCLUSIVE
    assert "not in every fold's network: 1 better, 0 worse" in claim.detail
    for replicated, status in (("2/2", HOLDS), ("", INCONCLUSIVE), ("0/5", INCONCLUSIVE)):
        cells[1]["replicated"] = replicated
        claim = direction_claims(compare(published, cells, phantom_datasets=["acdc"]))[0]
        assert claim.status == status, replicated
    out = compare(published, cells, phantom_datasets=["acdc"])
    assert set(out["reproduced_replicated"]) <= {"", "0/5"}


TABLE2A = "DMR better than its baseline, Table II(a)"


def test_a_dmr_claim_holds_only_with_significant_cells_for_and_none_against(
    published: pd.DataFrame,
) -> None:
    # better in all three cells, significantly in one: holds
    claims = _table2a(published, [(81.0, "**"), (81.0, ""), (19.0, "")])
    assert claims[TABLE2A].status == HOLDS
    assert "DMR significantly better in 1 of 3 cells, significantly worse in 0" in (
        claims[TABLE2A].detail
    )
    assert "paper: 24 of 24 (17 significantly)" in claims[TABLE2A].detail
    assert claims["DMR better than its baseline, Table IV"].status == NOT_RUN
    # better in all three cells by direction, none significantly: no evidence either way
    claims = _table2a(published, [(81.0, ""), (81.0, ""), (19.0, "")])
    assert claims[TABLE2A].status == INCONCLUSIVE
    # significantly worse (HD higher) and nowhere significantly better: contradicted
    claims = _table2a(published, [(81.0, ""), (79.0, ""), (25.0, "*")])
    assert claims[TABLE2A].status == CONTRADICTED
    # significant cells both ways: inconclusive
    claims = _table2a(published, [(81.0, "**"), (79.0, ""), (25.0, "*")])
    assert claims[TABLE2A].status == INCONCLUSIVE


def test_a_dmr_claim_is_not_meaningful_when_the_models_did_not_learn(
    published: pd.DataFrame,
) -> None:
    es_dice = {**ED_DICE, "phase": "ES"}
    cells = [
        cell(6.0, method="segnet-base", **ED_DICE),
        cell(5.0, method="segnet-base", **es_dice),
        cell(9.0, marker="**", method="segnet-dmr", **ED_DICE),
        cell(8.0, marker="*", method="segnet-dmr", **es_dice),
    ]
    claim = direction_claims(compare(published, cells))[0]
    assert claim.status == NOT_MEANINGFUL
    assert "did not learn" in claim.detail and "segnet-base 0.055" in claim.detail
    # one pair learned, the other did not: only the learned pair is judged
    cells += [
        cell(90.0, method="unet-base", **ED_DICE),
        cell(92.0, marker="*", method="unet-dmr", **ED_DICE),
    ]
    claim = direction_claims(compare(published, cells))[0]
    assert claim.status == HOLDS
    assert "significantly better in 1 of 1 cells" in claim.detail
    assert {c.status for c in direction_claims(compare(published, cells))} <= set(CLAIM_STATUSES)


def _figure(points: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(points, columns=["dataset", "model", "mean", "ci_low", "ci_high"])
    return frame.assign(n=100, arch=frame["model"].str.partition("-")[0])


def test_the_weighting_claim_needs_the_learned_ci_above_the_fixed_one() -> None:
    holds = _figure([("acdc", "unet-dmr", 0.85, 0.84, 0.86),
                     ("acdc", "unet-dmr_fixed", 0.80, 0.79, 0.83)])  # fmt: skip
    assert weighting_claim(holds).status == HOLDS
    overlap = holds.assign(ci_high=[0.86, 0.845])
    claim = weighting_claim(overlap)
    assert claim.status == INCONCLUSIVE and "CIs overlap" in claim.detail
    below = holds.assign(mean=[0.80, 0.85], ci_low=[0.79, 0.84], ci_high=[0.81, 0.86])
    assert weighting_claim(below).status == CONTRADICTED
    unlearned = holds.assign(mean=[0.30, 0.85])
    claim = weighting_claim(unlearned)
    assert claim.status == NOT_MEANINGFUL and "unet-dmr 0.300" in claim.detail
    assert weighting_claim(None).status == NOT_RUN
    assert weighting_claim(holds.iloc[:1]).status == NOT_RUN


def test_the_threshold_claim_needs_every_ci_to_share_a_value() -> None:
    shared = _figure([("lvsc", "unet-dmr", 0.84, 0.82, 0.86),
                      ("lvsc", "unet-dmr_t5", 0.83, 0.80, 0.85),
                      ("lvsc", "unet-dmr_t60", 0.85, 0.84, 0.87)])  # fmt: skip
    assert threshold_claim(shared).status == HOLDS
    apart = shared.assign(ci_low=[0.82, 0.70, 0.855], ci_high=[0.86, 0.75, 0.87])
    assert threshold_claim(apart).status == CONTRADICTED
    mixed = pd.concat([shared.assign(dataset="acdc"), apart])
    assert threshold_claim(mixed).status == INCONCLUSIVE
    assert threshold_claim(shared.assign(mean=0.06)).status == NOT_MEANINGFUL
    assert threshold_claim(None).status == NOT_RUN


# --------------------------------------------------------------------------- CLI
def test_the_cli_writes_csv_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stats = tmp_path / "stats"
    stats.mkdir()
    pd.DataFrame(
        [cell(91.5, (91.0, 92.0), method="segnet-base", **ED_DICE),
         cell(92.0, (91.5, 92.5), marker="**", method="segnet-dmr", **ED_DICE)]
    ).to_csv(stats / "IIa.csv", index=False)  # fmt: skip
    fig6 = _figure([("acdc", "unet-dmr", 0.85, 0.84, 0.86),
                    ("acdc", "unet-dmr_fixed", 0.80, 0.79, 0.83)])  # fmt: skip
    fig6.to_csv(tmp_path / "fig6.csv", index=False)
    prefix = tmp_path / "tables" / "paper_vs_reproduced"
    argv = ["paper-vs-reproduced", "--cells", str(stats / "IIa.csv"), str(stats / "table4.csv"),
            "--fig6", str(tmp_path / "fig6.csv"), "--phantom-datasets", "lvsc",
            "-o", str(prefix)]  # fmt: skip
    assert main(argv) == 0
    out = pd.read_csv(prefix.with_suffix(".csv"), keep_default_na=False)
    assert len(out) == len(load_published())
    assert out["verdict"].value_counts()["reproduced"] == 2
    assert out.loc[out["verdict"] == "reproduced", "n"].tolist() == ["100", "100"]  # a count
    markdown = prefix.with_suffix(".md").read_text()
    assert "| Table II(a) | 48 | 2 | 0 |" in markdown
    assert "**Learned better than fixed task weights (Fig. 6)**: holds." in markdown
    assert "table4.csv" in markdown.split("## Verdict rules")[0]  # listed as not found
    assert "| ED | mean |  | segnet-dmr | 91.7\\*\\* | 92.00\\*\\* | [91.50, 92.50] |" in markdown
    summary = json.loads(prefix.with_suffix(".json").read_text())  # what the HTML report shows
    assert summary["numbers"] == len(out) and summary["total"]["reproduced"] == 2
    table2a = next(t for t in summary["tables"] if t["table"] == "IIa")
    assert table2a["numbers"] == 48 and table2a["verdicts"]["reproduced"] == 2
    assert sum(t["numbers"] for t in summary["tables"]) == len(out)
    fig6_claim = {c["name"]: c for c in summary["claims"]}[
        "Learned better than fixed task weights (Fig. 6)"
    ]
    assert fig6_claim["status"] == "holds" and "acdc: unet-dmr" in fig6_claim["detail"]
    assert summary["missing_files"] == [str(stats / "table4.csv")]

    (stats / "IIa.csv").write_text("table,dataset\nIIa,acdc\n")
    assert main(argv) == 1
    assert "IIa.csv: cells table lacks column(s)" in capsys.readouterr().err
