"""Largest connected component per structure and the ensemble majority vote."""

from __future__ import annotations

import numpy as np
import pytest

from dmr.inference.postprocess import largest_component_per_label, majority_vote


def test_far_blob_is_removed_and_other_structures_kept():
    labels = np.zeros((4, 20, 20), np.uint8)
    labels[1:3, 5:10, 5:10] = 3  # the LV: 50 voxels
    labels[0, 17:19, 17:19] = 3  # a far false positive: 4 voxels
    labels[1:3, 12:15, 5:8] = 1  # the RV, untouched
    cleaned = largest_component_per_label(labels)
    expected = labels.copy()
    expected[0, 17:19, 17:19] = 0
    np.testing.assert_array_equal(cleaned, expected)
    assert cleaned.dtype == labels.dtype
    assert labels[0, 17, 17] == 3  # input not modified


def test_default_connectivity_joins_diagonal_neighbours_across_slices():
    labels = np.zeros((2, 6, 6), np.uint8)
    labels[0, 1:3, 1:3] = 2
    labels[1, 3:5, 3:5] = 2  # touches the first square only through a corner, one slice up
    np.testing.assert_array_equal(largest_component_per_label(labels), labels)
    # with face connectivity they are two components of 4 voxels; the first found is kept
    faces = largest_component_per_label(labels, connectivity=1)
    assert faces[0].sum() == 8 and faces[1].sum() == 0


def test_only_requested_structures_are_cleaned():
    labels = np.zeros((1, 8, 8), np.uint8)
    labels[0, 0:3, 0:3] = 1
    labels[0, 6:8, 6:8] = 1
    kept = largest_component_per_label(labels, label_values=[2, 3])
    np.testing.assert_array_equal(kept, labels)
    assert largest_component_per_label(labels, label_values=[1])[0, 7, 7] == 0
    with pytest.raises(ValueError, match="connectivity"):
        largest_component_per_label(labels, connectivity=4)


def test_majority_vote_and_tie_rule():
    a = np.array([[0, 1, 3, 2]], np.uint8)
    b = np.array([[0, 1, 2, 3]], np.uint8)
    c = np.array([[1, 2, 2, 0]], np.uint8)
    # pixel 3 is a three-way tie (2, 3, 0): the lowest label, background, wins
    np.testing.assert_array_equal(majority_vote([a, b, c]), [[0, 1, 2, 0]])
    # two models disagreeing: lowest label wins
    np.testing.assert_array_equal(majority_vote([a, b]), [[0, 1, 2, 2]])
    np.testing.assert_array_equal(majority_vote([c]), c)
    assert majority_vote([a, b, c]).dtype == np.uint8
    with pytest.raises(ValueError):
        majority_vote([])
