"""Whether two images share one voxel grid: the check behind every image/label pairing."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

#: Relative tolerance on spacing, origin and direction: NIfTI headers store float32, so a copy
#: written by another tool differs in the last digits.
GEOMETRY_TOLERANCE = 1e-4


def geometry_mismatch(
    expected: sitk.Image, found: sitk.Image, expected_name: str = "image"
) -> str | None:
    """Describe how ``found``'s grid differs from ``expected``'s, or ``None`` when they agree.

    Size must match exactly; spacing, origin and direction within ``GEOMETRY_TOLERANCE`` relative
    to the larger of 1 and the expected values' magnitude. The message names ``expected_name``.
    """
    if expected.GetSize() != found.GetSize():
        return f"size {found.GetSize()} differs from the {expected_name}'s {expected.GetSize()}"
    for name, get in (
        ("spacing", sitk.Image.GetSpacing),
        ("origin", sitk.Image.GetOrigin),
        ("direction", sitk.Image.GetDirection),
    ):
        want, have = np.asarray(get(expected)), np.asarray(get(found))
        scale = max(1.0, float(np.abs(want).max()))
        if not np.allclose(have, want, rtol=0.0, atol=GEOMETRY_TOLERANCE * scale):
            return (
                f"{name} {have.round(4).tolist()} differs from the {expected_name}'s "
                f"{want.round(4).tolist()}"
            )
    return None
