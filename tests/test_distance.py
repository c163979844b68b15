"""Distance maps (paper Eq. 2) against brute force and closed-form answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dmr.preprocess.distance import class_distance_maps, truncated_signed_distance


def _brute_force_signed_distance(mask: np.ndarray) -> np.ndarray:
    """Inside: distance to the nearest background pixel; outside: to the nearest foreground."""
    coords = list(itertools.product(range(mask.shape[0]), range(mask.shape[1])))
    out = np.zeros(mask.shape)
    for y, x in coords:
        others = [(v, u) for v, u in coords if mask[v, u] != mask[y, x]]
        d = min(np.hypot(v - y, u - x) for v, u in others)
        out[y, x] = d if mask[y, x] else -d
    return out


def test_matches_brute_force_on_a_tiny_irregular_mask() -> None:
    mask = np.zeros((7, 9), bool)
    mask[1:5, 2:7] = True
    mask[2, 4] = False  # a hole
    mask[5, 6] = True
    expected = _brute_force_signed_distance(mask)
    np.testing.assert_allclose(truncated_signed_distance(mask, np.inf), expected, rtol=1e-6)
    truncated = truncated_signed_distance(mask, 1.5)
    np.testing.assert_allclose(truncated, np.maximum(expected, -1.5), rtol=1e-6)


def test_sign_and_truncation() -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 10:20] = 1
    dist = truncated_signed_distance(mask, 5.0)
    assert dist.dtype == np.float32 and dist.shape == mask.shape
    assert (dist[mask == 1] > 0).all()
    assert (dist[mask == 0] < 0).all()
    assert dist.min() == -5.0
    # Far-away pixels are truncated, nearby ones are not.
    assert dist[39, 39] == -5.0
    assert dist[9, 15] == -1.0 and dist[10, 15] == 1.0
    # Inside values are never truncated.
    assert dist.max() == 5.0  # centre of a 10x10 square: 5 px to the background
    assert truncated_signed_distance(mask, 2.0).max() == 5.0


def test_disc_centre_value_is_its_radius() -> None:
    yy, xx = np.mgrid[:101, :101]
    radius = 30
    disc = (yy - 50) ** 2 + (xx - 50) ** 2 <= radius**2
    dist = truncated_signed_distance(disc, 250)
    # The nearest background pixel lies just beyond the rim: between r and r + 1 away.
    assert radius < dist[50, 50] <= radius + 1
    assert dist[50, 50] == dist.max()


@pytest.mark.parametrize("threshold", [7.0, np.inf])
def test_empty_mask_is_minus_threshold_everywhere(threshold: float) -> None:
    dist = truncated_signed_distance(np.zeros((6, 5), bool), threshold)
    assert dist.shape == (6, 5)
    assert (dist == -threshold).all()


def test_invalid_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        truncated_signed_distance(np.zeros((2, 3, 4)), 5)
    for bad in (0, -1, np.nan):
        with pytest.raises(ValueError, match="threshold"):
            truncated_signed_distance(np.zeros((3, 3)), bad)
    with pytest.raises(ValueError, match="foreground everywhere"):
        truncated_signed_distance(np.ones((3, 3)), 5)


def test_class_distance_maps_one_channel_per_foreground_class() -> None:
    labels = np.zeros((20, 20), np.uint8)
    labels[2:8, 2:8] = 1
    labels[10:15, 10:15] = 3  # class 2 absent
    maps = class_distance_maps(labels, num_classes=4, threshold=np.inf)
    assert maps.shape == (3, 20, 20) and maps.dtype == np.float32
    np.testing.assert_array_equal(maps[0], truncated_signed_distance(labels == 1, np.inf))
    np.testing.assert_array_equal(maps[2], truncated_signed_distance(labels == 3, np.inf))
    assert np.isneginf(maps[1]).all()
    np.testing.assert_array_equal(maps[0] > 0, labels == 1)
    with pytest.raises(ValueError, match="class indices"):
        class_distance_maps(labels, num_classes=3, threshold=10)
