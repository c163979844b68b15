"""Apical / mid / basal region of each short-axis slice (paper Fig. 4, Section III).

The paper splits slices "based on the reference segmentation" into apical (25 % of the slices
at the apical end and beyond), basal (25 % at the basal end and beyond) and mid (the remaining
50 %). Definition used here, for a (Z, Y, X) reference label volume:

* the *foreground slices* are those with any nonzero label; let ``n`` be their number;
* a quarter is ``q = floor(n / 4 + 0.5)`` slices (round half up): n = 1 → 0 (the single slice
  is mid), 2 → 1 (apical + basal), 3 → 1 (apical, mid, basal), 4 → 1, 6 → 2, 10 → 3;
* the first ``q`` foreground slices from the apical end are apical, the last ``q`` basal, the
  others mid (an empty slice between foreground slices takes the region of its position);
* slices beyond the apex (outside the foreground range on the apical side) are apical, slices
  beyond the base are basal.

Which end is apical is decided from the anatomy, since slice order differs between datasets and
readers: the LV tapers towards the apex and the RV stops short of it, so the end whose quarter has
the smaller mean foreground area (all structures together) is apical. With fewer than two
foreground slices, or equal areas, the high-index end is taken as apical (ACDC's storage order,
base at slice 0).
"""

from __future__ import annotations

import numpy as np

APICAL = "apical"
MID = "mid"
BASAL = "basal"
REGIONS: tuple[str, ...] = (APICAL, MID, BASAL)


def slice_regions(label: np.ndarray) -> list[str]:
    """Region (``"apical"``, ``"mid"`` or ``"basal"``) of every slice of a (Z, Y, X) label volume.

    Raises:
        ValueError: not 3-D, or no slice contains foreground (the regions are undefined).
    """
    label = np.asarray(label)
    if label.ndim != 3:
        raise ValueError(f"expected a (Z, Y, X) label volume, got shape {label.shape}")
    areas = np.count_nonzero(label.reshape(label.shape[0], -1), axis=1)
    foreground_slices = np.flatnonzero(areas)
    n = foreground_slices.size
    if n == 0:
        raise ValueError(
            f"label volume of shape {label.shape} has no foreground: regions are undefined"
        )
    quarter = int(np.floor(n / 4 + 0.5))

    # Orient the foreground slices from the apex towards the base.
    low_end_area = areas[foreground_slices[: max(quarter, 1)]].mean()
    high_end_area = areas[foreground_slices[-max(quarter, 1) :]].mean()
    apex_at_low_index = bool(low_end_area < high_end_area)

    # Cut points as slice indices, so empty slices inside the heart follow their neighbours.
    low_cut = int(foreground_slices[quarter - 1]) if quarter else int(foreground_slices[0]) - 1
    high_cut = int(foreground_slices[-quarter]) if quarter else int(foreground_slices[-1]) + 1
    low_region, high_region = (APICAL, BASAL) if apex_at_low_index else (BASAL, APICAL)
    regions = []
    for z in range(label.shape[0]):
        if z <= low_cut:
            regions.append(low_region)
        elif z >= high_cut:
            regions.append(high_region)
        else:
            regions.append(MID)
    return regions
