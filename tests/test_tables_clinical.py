"""Table II(b): correlation and bias (LoA) of EF and myocardial mass, against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from dmr.errors import InputError
from dmr.tables import Bootstrap, table2b

N_CASES = 9
NOISE = {"unet-base": 6.0, "unet-dmr": 2.0, "unet-dmr_fixed": 4.0}


@pytest.fixture
def clinical() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for model, noise in NOISE.items():
        arch, _, variant = model.partition("-")
        for case in range(N_CASES):
            reference = {
                "lv_ef_pct": 40.0 + 3.0 * case,
                "rv_ef_pct": 50.0 - 2.0 * case,
                "myo_mass_ed_g": 110.0 + 9.0 * case,
                "myo_mass_es_g": 115.0 + 9.0 * case,
                "lv_edv_ml": 150.0 + case,
            }
            for quantity, value in reference.items():
                prediction = value + 1.0 + rng.normal(0, noise)
                if model == "unet-dmr" and case == 0 and quantity == "rv_ef_pct":
                    prediction = np.nan  # no RV predicted at ED: EF undefined
                rows.append(
                    {
                        "dataset": "acdc",
                        "model": model,
                        "arch": arch,
                        "variant": variant,
                        "fold": case % 3,
                        "case": f"patient{case:03d}",
                        "group": "NOR",
                        "quantity": quantity,
                        "reference": value,
                        "prediction": prediction,
                    }
                )
    return pd.DataFrame(rows)


def test_table2b_agreement_values_cells_and_notes(clinical: pd.DataFrame) -> None:
    table = table2b(clinical, Bootstrap(n_resamples=499))
    frame = table.frame.set_index("index")
    assert frame.index.tolist() == ["LV EF", "RV EF", "Myo Mass"]
    assert list(frame.columns[:2]) == ["Corr UNet", "Corr DMR-UNet"]
    rows = clinical[(clinical["model"] == "unet-dmr") & (clinical["quantity"] == "rv_ef_pct")]
    rows = rows.dropna()
    differences = rows["prediction"] - rows["reference"]
    r = scipy_stats.pearsonr(rows["reference"], rows["prediction"]).statistic
    assert frame.loc["RV EF", "Corr DMR-UNet"] == pytest.approx(r)
    assert frame.loc["RV EF", "Bias DMR-UNet"] == pytest.approx(differences.mean())
    assert frame.loc["RV EF", "LoA DMR-UNet"] == pytest.approx(1.96 * differences.std(ddof=1))
    assert frame.loc["RV EF", "n DMR-UNet"] == N_CASES - 1
    # Mass is the ED mass.
    ed = clinical[(clinical["model"] == "unet-base") & (clinical["quantity"] == "myo_mass_ed_g")]
    expected = (ed["prediction"] - ed["reference"]).mean()
    assert frame.loc["Myo Mass", "Bias UNet"] == pytest.approx(expected)

    display = table.display
    assert display.loc["RV EF", ("Bias (LoA)", "DMR-UNet")] == (
        f"{differences.mean():.2f} ({1.96 * differences.std(ddof=1):.2f})"
    )
    # The less noisy DMR model agrees better: highest r and narrowest LoA are bold.
    assert table.bold.loc["LV EF", ("Correlation Coefficient", "DMR-UNet")]
    assert table.bold.loc["LV EF", ("Bias (LoA)", "DMR-UNet")]
    assert not table.bold.loc["LV EF", ("Bias (LoA)", "UNet")]

    cells = table.cells.set_index(["quantity", "structure", "method"])
    assert set(table.cells["table"]) == {"IIb"}
    ef = cells.loc[("ef_r", "rv", "unet-dmr")]
    assert ef["phase"] == "" and ef["n"] == N_CASES - 1
    assert ef["value"] == pytest.approx(r) and ef["ci_low"] < r < ef["ci_high"]
    mass = cells.loc[("mass_loa", "myo", "unet-base")]
    assert mass["phase"] == "ED" and mass["ci_low"] < mass["value"] < mass["ci_high"]
    assert len(table.cells) == 3 * 3 * 2  # index x (r, bias, loa) x model

    notes = " ".join(table.notes)
    assert "DMR-UNet RV EF 1" in notes  # the undefined EF pair, counted
    assert "unet-dmr_fixed" in notes
    assert "1.96 x SD" in notes


def test_table2b_rejects_duplicated_rows(clinical: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="duplicated model/case/quantity"):
        table2b(pd.concat([clinical, clinical]))
    with pytest.raises(InputError, match="lacks column"):
        table2b(clinical.drop(columns="reference"))
