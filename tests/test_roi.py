"""Region-of-interest confusion counts of the LV Segmentation Challenge measures (Table V)."""

from __future__ import annotations

import numpy as np
import pytest

from dmr.evaluation.roi import roi_box, roi_confusion, volume_roi_confusion


def squares() -> tuple[np.ndarray, np.ndarray]:
    """Reference rows 5-9 x cols 5-9, prediction rows 7-11 x cols 5-9 on a 20 x 20 slice."""
    reference = np.zeros((20, 20), dtype=bool)
    prediction = np.zeros((20, 20), dtype=bool)
    reference[5:10, 5:10] = True
    prediction[7:12, 5:10] = True
    return reference, prediction


def test_counts_inside_the_enlarged_bounding_box_of_both_masks():
    reference, prediction = squares()
    # union rows 5-11, cols 5-9; + 2 mm at 1 mm/pixel -> rows 3-13 (11) x cols 3-11 (9) = 99
    counts = roi_confusion(reference, prediction, (1.0, 1.0), margin_mm=2.0)
    assert counts == {"roi_tp": 15, "roi_fp": 10, "roi_fn": 10, "roi_tn": 99 - 35}
    # the challenge measures from these counts
    tp, fp, fn, tn = (counts[k] for k in ("roi_tp", "roi_fp", "roi_fn", "roi_tn"))
    assert tp / (tp + fp + fn) == pytest.approx(15 / 35)  # Jaccard
    assert tn / (tn + fp) == pytest.approx(64 / 74)  # specificity
    assert tn / (tn + fn) == pytest.approx(64 / 74)  # NPV


def test_margin_follows_the_pixel_spacing_of_each_axis():
    reference, prediction = squares()
    # 2 mm = 1 row at 2 mm/row, 4 columns at 0.5 mm/column: rows 4-12 (9) x cols 1-13 (13)
    assert roi_box(reference, prediction, (2.0, 0.5), 2.0) == (slice(4, 13), slice(1, 14))
    counts = roi_confusion(reference, prediction, (2.0, 0.5), margin_mm=2.0)
    assert counts["roi_tn"] == 9 * 13 - 35


def test_box_is_clipped_to_the_image_and_empty_slices_count_nothing():
    reference = np.zeros((10, 10), dtype=bool)
    reference[0:2, 8:10] = True
    assert roi_box(reference, reference, (1.0, 1.0), 5.0) == (slice(0, 7), slice(3, 10))
    empty = np.zeros((10, 10), dtype=bool)
    assert roi_confusion(empty, empty, (1.0, 1.0)) == dict.fromkeys(
        ("roi_tp", "roi_fp", "roi_fn", "roi_tn"), 0
    )


def test_volume_counts_are_per_slice():
    reference, prediction = squares()
    volume_ref = np.stack([reference, np.zeros_like(reference)])
    volume_pred = np.stack([prediction, prediction])
    rows = volume_roi_confusion(volume_ref, volume_pred, (8.0, 1.0, 1.0), margin_mm=2.0)
    assert [r["slice"] for r in rows] == [0, 1]
    assert rows[0]["roi_tp"] == 15
    assert rows[1] == {"slice": 1, "roi_tp": 0, "roi_fp": 25, "roi_fn": 0, "roi_tn": 9 * 9 - 25}


def test_bad_input_is_rejected():
    reference, prediction = squares()
    with pytest.raises(ValueError, match="same shape"):
        roi_confusion(reference, prediction[:-1], (1.0, 1.0))
    with pytest.raises(ValueError, match="margin_mm"):
        roi_box(reference, prediction, (1.0, 1.0), -1.0)
