"""Apical / mid / basal slice regions (paper Fig. 4) on volumes with a known anatomy."""

from __future__ import annotations

import numpy as np
import pytest

from dmr.preprocess.regions import slice_regions


def _tapering_volume(radii: list[int], size: int = 30) -> np.ndarray:
    """One disc per slice with the given radius (0 = empty slice)."""
    yy, xx = np.mgrid[:size, :size]
    volume = np.zeros((len(radii), size, size), np.uint8)
    for z, radius in enumerate(radii):
        if radius:
            volume[z][(yy - size // 2) ** 2 + (xx - size // 2) ** 2 <= radius**2] = 2
    return volume


def test_apex_at_high_index_with_slices_beyond_base_and_apex() -> None:
    # base (large) at low z, apex (small) at high z; 8 foreground slices -> quarter = 2.
    radii = [0, 12, 12, 11, 10, 9, 7, 5, 3, 0, 0]
    regions = slice_regions(_tapering_volume(radii))
    assert regions == ["basal"] * 3 + ["mid"] * 4 + ["apical"] * 4


def test_apex_at_low_index() -> None:
    radii = [0, 3, 5, 7, 9, 10, 11, 12, 12, 0]
    regions = slice_regions(_tapering_volume(radii))
    assert regions == ["apical"] * 3 + ["mid"] * 4 + ["basal"] * 3


def test_reversing_the_stack_reverses_the_regions() -> None:
    volume = _tapering_volume([0, 2, 4, 6, 8, 9, 10, 11, 12, 12, 12])
    assert slice_regions(volume[::-1]) == slice_regions(volume)[::-1]


@pytest.mark.parametrize(
    ("radii", "expected"),
    [
        ([0, 5, 0], ["basal", "mid", "apical"]),  # one slice: mid; ties -> apex at high index
        ([8, 4], ["basal", "apical"]),
        ([4, 6, 8], ["apical", "mid", "basal"]),
        ([9, 8, 6, 4, 3, 2], ["basal"] * 2 + ["mid"] * 2 + ["apical"] * 2),  # round(1.5) = 2
        ([9, 8, 7, 6, 5], ["basal", "mid", "mid", "mid", "apical"]),  # round(1.25) = 1
    ],
)
def test_small_stacks_and_rounding(radii: list[int], expected: list[str]) -> None:
    assert slice_regions(_tapering_volume(radii)) == expected


def test_empty_slice_inside_the_heart_follows_its_position() -> None:
    radii = [12, 12, 11, 10, 0, 8, 6, 4, 3]  # 8 foreground slices, a missing one at z = 4
    regions = slice_regions(_tapering_volume(radii))
    assert regions == ["basal"] * 2 + ["mid"] * 5 + ["apical"] * 2


def test_invalid_volumes() -> None:
    with pytest.raises(ValueError, match="no foreground"):
        slice_regions(np.zeros((4, 5, 5), np.uint8))
    with pytest.raises(ValueError, match="Z, Y, X"):
        slice_regions(np.ones((5, 5), np.uint8))
