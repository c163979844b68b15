"""Clinical indices (EDV, ESV, EF, myocardial mass) on hand-made volume tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dmr.evaluation.clinical import clinical_indices, ejection_fraction


def _volumes(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["case", "phase", "structure", "volume_gt_ml", "volume_pred_ml"]
    )


def _as_dict(table: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    return {
        (r.case, r.quantity): (r.reference, r.prediction) for r in table.itertuples(index=False)
    }


def test_acdc_case_edv_esv_ef_and_mass() -> None:
    volumes = _volumes(
        [
            ("p1", "ED", "lv", 150.0, 140.0),
            ("p1", "ES", "lv", 60.0, 70.0),
            ("p1", "ED", "rv", 160.0, 150.0),
            ("p1", "ES", "rv", 80.0, 90.0),
            ("p1", "ED", "myo", 100.0, 110.0),
            ("p1", "ES", "myo", 105.0, 100.0),
        ]
    )
    out = _as_dict(clinical_indices(volumes, density=1.06))
    assert out[("p1", "lv_edv_ml")] == (150.0, 140.0)
    assert out[("p1", "lv_esv_ml")] == (60.0, 70.0)
    assert out[("p1", "lv_ef_pct")] == pytest.approx((60.0, 50.0))
    assert out[("p1", "rv_ef_pct")] == pytest.approx((50.0, 40.0))
    assert out[("p1", "myo_mass_ed_g")] == pytest.approx((106.0, 116.6))
    assert out[("p1", "myo_mass_es_g")] == pytest.approx((111.3, 106.0))
    assert len(out) == 8


def test_density_is_configurable() -> None:
    volumes = _volumes([("c", "ED", "myo", 10.0, 20.0)])
    out = _as_dict(clinical_indices(volumes, density=2.0))
    assert out[("c", "myo_mass_ed_g")] == (20.0, 40.0)
    with pytest.raises(ValueError, match="density"):
        clinical_indices(volumes, density=0.0)


def test_lvsc_has_only_myocardial_masses() -> None:
    volumes = _volumes([("d1", "ED", "myo", 90.0, 80.0), ("d1", "ES", "myo", 95.0, 85.0)])
    table = clinical_indices(volumes)
    assert sorted(table["quantity"]) == ["myo_mass_ed_g", "myo_mass_es_g"]
    assert list(table.columns) == ["case", "quantity", "reference", "prediction"]


def test_ef_undefined_without_ed_volume() -> None:
    assert math.isnan(ejection_fraction(0.0, 0.0))
    volumes = _volumes([("p", "ED", "lv", 100.0, 0.0), ("p", "ES", "lv", 40.0, 0.0)])
    ref, pred = _as_dict(clinical_indices(volumes))[("p", "lv_ef_pct")]
    assert ref == pytest.approx(60.0) and math.isnan(pred)


def test_rejects_duplicates_and_missing_columns() -> None:
    volumes = _volumes([("p", "ED", "lv", 1.0, 1.0), ("p", "ED", "lv", 2.0, 2.0)])
    with pytest.raises(ValueError, match="duplicated"):
        clinical_indices(volumes)
    with pytest.raises(ValueError, match="volume_pred_ml"):
        clinical_indices(volumes.drop(columns="volume_pred_ml"))
