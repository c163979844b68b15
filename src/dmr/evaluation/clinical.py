"""Clinical indices from segmented volumes (paper Eq. 11-12): EDV, ESV, EF and myocardial mass.

Input is the per-phase structure volumes of the metric tables (``volume_gt_ml`` from the
reference, ``volume_pred_ml`` from the prediction), so indices derive from the same tidy table as
every other number. 1 ml = 1 cm³, hence mass (g) = volume (ml) x density (g/cm³).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Myocardial tissue density of the paper (Eq. 12), g/cm³.
MYOCARDIUM_DENSITY = 1.06

#: Chambers (structure names) with end-diastolic/-systolic volumes and an ejection fraction.
CHAMBERS: tuple[str, ...] = ("lv", "rv")

_REQUIRED = ("case", "phase", "structure", "volume_gt_ml", "volume_pred_ml")


def ejection_fraction(edv: float, esv: float) -> float:
    """EF (%) = (EDV - ESV) / EDV x 100 (Eq. 11); NaN when EDV is 0 (no chamber segmented at ED)."""
    if edv == 0:
        return float("nan")
    return (edv - esv) / edv * 100.0


def clinical_indices(volumes: pd.DataFrame, density: float = MYOCARDIUM_DENSITY) -> pd.DataFrame:
    """Per-case clinical indices in long format ``case, quantity, reference, prediction``.

    ``volumes`` holds one row per case x phase (ED/ES) x structure (``rv``, ``myo``, ``lv``) with
    ``volume_gt_ml`` and ``volume_pred_ml``. Quantities: ``{lv,rv}_edv_ml`` (ED volume),
    ``{lv,rv}_esv_ml`` (ES volume), ``{lv,rv}_ef_pct`` (needs both phases; NaN when EDV is 0) and
    ``myo_mass_{ed,es}_g`` (myocardium volume x ``density``). Only quantities whose structure and
    phase are present are produced, so LVSC (myocardium only) yields myocardial masses only.
    """
    missing = [c for c in _REQUIRED if c not in volumes.columns]
    if missing:
        raise ValueError(f"volumes table lacks column(s) {missing}; has {list(volumes.columns)}")
    if not np.isfinite(density) or density <= 0:
        raise ValueError(f"density must be a positive number of g/cm^3; got {density}")
    duplicated = volumes.duplicated(["case", "phase", "structure"], keep=False)
    if duplicated.any():
        first = volumes.loc[duplicated, ["case", "phase", "structure"]].iloc[0].tolist()
        raise ValueError(
            f"{int(duplicated.sum())} duplicated case/phase/structure rows in the volumes table, "
            f"e.g. {first}"
        )

    rows: list[dict[str, object]] = []
    for case, table in volumes.groupby("case", sort=False):
        # (structure, phase) -> (reference ml, prediction ml)
        volume = {
            (str(r.structure), str(r.phase)): (float(r.volume_gt_ml), float(r.volume_pred_ml))
            for r in table.itertuples(index=False)
        }
        quantities: dict[str, tuple[float, float]] = {}
        for chamber in CHAMBERS:
            ed, es = volume.get((chamber, "ED")), volume.get((chamber, "ES"))
            if ed is not None:
                quantities[f"{chamber}_edv_ml"] = ed
            if es is not None:
                quantities[f"{chamber}_esv_ml"] = es
            if ed is not None and es is not None:
                quantities[f"{chamber}_ef_pct"] = (
                    ejection_fraction(ed[0], es[0]),
                    ejection_fraction(ed[1], es[1]),
                )
        for phase in ("ED", "ES"):
            myo = volume.get(("myo", phase))
            if myo is not None:
                quantities[f"myo_mass_{phase.lower()}_g"] = (myo[0] * density, myo[1] * density)
        rows.extend(
            {"case": case, "quantity": name, "reference": ref, "prediction": pred}
            for name, (ref, pred) in quantities.items()
        )
    return pd.DataFrame(rows, columns=["case", "quantity", "reference", "prediction"])
