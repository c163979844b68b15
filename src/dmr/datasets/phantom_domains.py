"""The phantoms' scanner domains: each format's default resolution, contrast, noise, bias and
intensity scale (M&Ms: one per vendor), and the checks that a config's overrides are sane.

Kept apart from the renderer (:mod:`dmr.datasets.phantom`) so that the numbers that make a
cross-dataset or cross-vendor experiment face a real domain shift are in one place.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from dmr.datasets.phantom_imaging import TISSUE_KEYS

#: Default scanner domains. Ranges are ``[low, high]`` (uniform draws; integers inclusive).
#: spacing_mm: in-plane pixel size; slice_thickness_mm / slice_gap_mm: slab and gap (the slice
#: step is their sum); fov_mm: field of view, turned into a matrix clipped to matrix_x/matrix_y;
#: n_slices: stack size (the stack always spans base to past the apex, so a small n_slices widens
#: the step); n_frames: cine frames; es_fraction: ES time / cycle; oblique_deg: max tilt of the
#: short-axis plane; intensities: relative tissue signal (per-tissue overrides allowed); gamma:
#: contrast curve exponent; texture: amplitude of the smooth tissue texture; noise: Rician sigma
#: relative to blood; bias_strength: log-amplitude of the coil bias field; intensity_scale: stored
#: value of unit signal; dtypes: pixel types drawn per case.
DEFAULT_DOMAINS: dict[str, dict[str, Any]] = {
    "acdc": {
        "spacing_mm": [1.3, 1.8],
        "slice_thickness_mm": [5.0, 10.0],
        "slice_gap_mm": [0.0, 0.0],
        "fov_mm": [300.0, 400.0],
        "matrix_x": [150, 260],
        "matrix_y": [200, 260],
        "n_slices": [6, 18],
        "n_frames": [12, 35],
        "es_fraction": [0.35, 0.45],
        "oblique_deg": 25.0,
        "intensities": {
            "blood": 1.0,
            "myocardium": 0.28,
            "fat": 0.85,
            "lung": 0.04,
            "liver": 0.42,
            "muscle": 0.32,
            "soft": 0.5,
        },
        "gamma": 1.0,
        "texture": 0.08,
        "noise": [0.02, 0.05],
        "bias_strength": [0.1, 0.3],
        "intensity_scale": [150.0, 600.0],
        "dtypes": ["int16", "float32"],
    },
    "lvsc": {
        "spacing_mm": [0.7, 2.1],
        "slice_thickness_mm": [6.0, 10.0],
        "slice_gap_mm": [0.0, 4.0],
        "fov_mm": [280.0, 380.0],
        "matrix_x": [160, 512],
        "matrix_y": [160, 512],
        "n_slices": [8, 16],
        "n_frames": [18, 30],
        "es_fraction": [0.3, 0.45],
        "oblique_deg": 50.0,
        "intensities": {
            "blood": 0.85,
            "myocardium": 0.35,
            "fat": 0.95,
            "lung": 0.06,
            "liver": 0.5,
            "muscle": 0.4,
            "soft": 0.55,
        },
        "gamma": 1.35,
        "texture": 0.12,
        "noise": [0.04, 0.08],
        "bias_strength": [0.25, 0.5],
        "intensity_scale": [800.0, 3000.0],
        "dtypes": ["int16", "uint16"],
    },
    # nnU-Net's raw format: 3-D ED/ES volumes of an ACDC-like scanner with its own contrast.
    "nnunet": {
        "spacing_mm": [1.2, 1.7],
        "slice_thickness_mm": [6.0, 10.0],
        "slice_gap_mm": [0.0, 2.0],
        "fov_mm": [300.0, 380.0],
        "matrix_x": [160, 256],
        "matrix_y": [160, 256],
        "n_slices": [6, 14],
        "n_frames": [10, 25],
        "es_fraction": [0.35, 0.45],
        "oblique_deg": 30.0,
        "intensities": {
            "blood": 0.95,
            "myocardium": 0.3,
            "fat": 0.9,
            "lung": 0.05,
            "liver": 0.45,
            "muscle": 0.35,
            "soft": 0.5,
        },
        "gamma": 1.15,
        "texture": 0.1,
        "noise": [0.03, 0.06],
        "bias_strength": [0.15, 0.35],
        "intensity_scale": [200.0, 1500.0],
        "dtypes": ["int16", "float32"],
        "vendors": {},
    },
    # M&Ms: 4-D cine per subject; each vendor a scanner domain of its own (overrides below).
    "mnms": {
        "spacing_mm": [1.2, 1.6],
        "slice_thickness_mm": [8.0, 10.0],
        "slice_gap_mm": [0.0, 2.0],
        "fov_mm": [300.0, 400.0],
        "matrix_x": [180, 256],
        "matrix_y": [180, 256],
        "n_slices": [8, 14],
        "n_frames": [20, 30],
        "es_fraction": [0.35, 0.45],
        "oblique_deg": 30.0,
        "intensities": {
            "blood": 1.0,
            "myocardium": 0.3,
            "fat": 0.85,
            "lung": 0.05,
            "liver": 0.45,
            "muscle": 0.33,
            "soft": 0.5,
        },
        "gamma": 1.0,
        "texture": 0.08,
        "noise": [0.02, 0.05],
        "bias_strength": [0.1, 0.3],
        "intensity_scale": [200.0, 800.0],
        "dtypes": ["int16", "float32"],
        # Vendor code -> domain overrides; cases are given the vendors round-robin.
        "vendors": {
            "A": {"gamma": 1.0, "noise": [0.02, 0.04], "intensity_scale": [200.0, 600.0]},
            "B": {
                "gamma": 1.35,
                "noise": [0.04, 0.07],
                "bias_strength": [0.25, 0.45],
                "intensity_scale": [1000.0, 2500.0],
                "intensities": {"blood": 0.85, "myocardium": 0.38, "fat": 0.95},
            },
        },
    },
}
#: The pixel types each format's files may hold.
_DTYPES: dict[str, set[str]] = {
    "acdc": {"int16", "float32"},
    "lvsc": {"int16", "uint16"},
    "nnunet": {"int16", "float32"},
    "mnms": {"int16", "float32"},
}

_RANGE_KEYS = (
    "spacing_mm",
    "slice_thickness_mm",
    "slice_gap_mm",
    "fov_mm",
    "matrix_x",
    "matrix_y",
    "n_slices",
    "n_frames",
    "es_fraction",
    "noise",
    "bias_strength",
    "intensity_scale",
)
_INT_RANGE_KEYS = ("matrix_x", "matrix_y", "n_slices", "n_frames")


def resolve_domain(fmt: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The format's default domain with ``overrides`` applied and checked.

    ``intensities`` may be overridden per tissue. Raises ``ValueError`` naming an unknown key (and
    listing the valid ones) or a malformed value.
    """
    if fmt not in DEFAULT_DOMAINS:
        raise ValueError(
            f"unknown dataset format {fmt!r}; expected one of {sorted(DEFAULT_DOMAINS)}"
        )
    domain = copy.deepcopy(DEFAULT_DOMAINS[fmt])
    for key, value in (overrides or {}).items():
        if key not in domain:
            raise ValueError(
                f"unknown {fmt} phantom domain key {key!r}; valid keys: {', '.join(sorted(domain))}"
            )
        if key == "intensities":
            if not isinstance(value, Mapping):
                raise ValueError(f"domain key 'intensities' must be a mapping, got {value!r}")
            unknown = sorted(set(value) - set(TISSUE_KEYS))
            if unknown:
                raise ValueError(
                    f"unknown tissue(s) {unknown} in domain 'intensities'; "
                    f"valid: {list(TISSUE_KEYS)}"
                )
            domain[key].update({k: float(v) for k, v in value.items()})
        else:
            domain[key] = value
    for vendor, vendor_overrides in domain.get("vendors", {}).items():
        if not isinstance(vendor_overrides, Mapping):
            raise ValueError(f"domain key 'vendors.{vendor}' must be a mapping of domain keys")
        unknown = sorted(set(vendor_overrides) - set(domain) - {"vendors"})
        if unknown or "vendors" in vendor_overrides:
            bad = unknown or ["vendors"]
            raise ValueError(f"unknown domain key(s) {bad} in 'vendors.{vendor}'")
    for key in _RANGE_KEYS:
        value = domain[key]
        if not (isinstance(value, list | tuple) and len(value) == 2 and value[0] <= value[1]):
            raise ValueError(f"domain key {key!r} must be a [low, high] range, got {value!r}")
        if key in _INT_RANGE_KEYS and not all(float(v).is_integer() and v >= 1 for v in value):
            raise ValueError(f"domain key {key!r} must hold positive integers, got {value!r}")
    if domain["n_frames"][0] < 2:
        raise ValueError(f"domain key 'n_frames' needs at least 2 frames, got {domain['n_frames']}")
    allowed = _DTYPES[fmt]
    if not domain["dtypes"] or set(domain["dtypes"]) - allowed:
        raise ValueError(f"domain key 'dtypes' must be a non-empty subset of {sorted(allowed)}")
    return domain
