"""Synthetic cine-MR phantoms written in the real ACDC or LVSC on-disk layout.

The pipeline never receives arrays from here: :func:`generate_dataset` writes files that the
readers (``dmr.datasets.read_dataset``) then read, exactly like a real download. Each format has
its own default scanner "domain" (resolution, contrast, noise, bias, intensity scale), so that
cross-dataset experiments on phantoms face a real domain shift.

Determinism: every random draw comes from ``numpy.random.default_rng([seed, split, case])`` and
DICOM UIDs/dates are derived from the seed, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from dmr.datasets.phantom_anatomy import (
    TISSUE_INDEX,
    HeartModel,
    cuts_heart,
    render_heart_slice,
    rv_depth,
    sample_heart,
)
from dmr.datasets.phantom_imaging import (
    TISSUE_KEYS,
    acquire,
    bias_field,
    heart_tissue_intensities,
    sample_thorax,
    smooth_field,
    thorax_slice,
)
from dmr.io import atomic_dir
from dmr.labels import BACKGROUND, LV_CAVITY, LV_MYOCARDIUM, RV_CAVITY

ACDC_GROUPS: tuple[str, ...] = ("NOR", "MINF", "DCM", "HCM", "RV")
SUPERSAMPLING = 3

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
    for key in _RANGE_KEYS:
        value = domain[key]
        if not (isinstance(value, list | tuple) and len(value) == 2 and value[0] <= value[1]):
            raise ValueError(f"domain key {key!r} must be a [low, high] range, got {value!r}")
        if key in _INT_RANGE_KEYS and not all(float(v).is_integer() and v >= 1 for v in value):
            raise ValueError(f"domain key {key!r} must hold positive integers, got {value!r}")
    if domain["n_frames"][0] < 2:
        raise ValueError(f"domain key 'n_frames' needs at least 2 frames, got {domain['n_frames']}")
    allowed = {"acdc": {"int16", "float32"}, "lvsc": {"int16", "uint16"}}[fmt]
    if not domain["dtypes"] or set(domain["dtypes"]) - allowed:
        raise ValueError(f"domain key 'dtypes' must be a non-empty subset of {sorted(allowed)}")
    return domain


@dataclass(frozen=True)
class CaseGeometry:
    """Sampling grid of one case: matrix, spacings and where each slice cuts the heart."""

    matrix: tuple[int, int]  # (nx, ny)
    spacing: tuple[float, float]  # in-plane (sx, sy) mm
    thickness: float
    slice_spacing: float  # centre-to-centre distance (thickness + gap)
    depths: tuple[float, ...]  # per slice (spatial order): distance from the ED endocardial apex
    heart_px: tuple[float, float]  # LV centre (apex level) in continuous pixel coordinates
    direction: tuple[float, ...]  # 3x3 row-major, columns: row dir, column dir, slice normal
    origin: tuple[float, float, float]


@dataclass(frozen=True)
class PhantomCase:
    """One rendered case: images (t, z, y, x) float32, labels (t, z, y, x) uint8, metadata."""

    heart: HeartModel
    geometry: CaseGeometry
    images: np.ndarray
    labels: np.ndarray
    es_frame: int  # 1-based
    dtype: str


def _uniform(rng: np.random.Generator, bounds: Any) -> float:
    return float(rng.uniform(float(bounds[0]), float(bounds[1])))


def _integer(rng: np.random.Generator, bounds: Any) -> int:
    return int(rng.integers(int(bounds[0]), int(bounds[1]) + 1))


def _random_rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """Rotation matrix tilted up to ``max_deg`` from the axes (an oblique short-axis plane)."""
    angles = np.deg2rad(rng.uniform(-max_deg, max_deg, size=3))
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rot_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rot_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rot_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rot_z @ rot_y @ rot_x


def sample_geometry(
    rng: np.random.Generator, domain: Mapping[str, Any], heart: HeartModel
) -> CaseGeometry:
    """Matrix, spacing and slice positions: base partially cut, 1-2 empty slices past the apex."""
    spacing = _uniform(rng, domain["spacing_mm"])
    spacing_y = spacing * rng.uniform(0.97, 1.03) if rng.random() < 0.2 else spacing
    fov = _uniform(rng, domain["fov_mm"])
    nx = int(np.clip(round(fov / spacing), *domain["matrix_x"]))
    ny = int(np.clip(round(fov * rng.uniform(0.8, 1.0) / spacing_y), *domain["matrix_y"]))
    thickness = _uniform(rng, domain["slice_thickness_mm"])
    step = thickness + _uniform(rng, domain["slice_gap_mm"])
    base_offset = rng.uniform(-0.45, -0.02)  # first slice centre just below the ED base (steps)
    n_empty = int(rng.integers(1, 3))  # empty slices past the epicardial apex
    coverage = heart.length + heart.apex_wall  # base to epicardial apex (mm)
    n_slices = int(np.floor(coverage / step + base_offset)) + 1 + n_empty
    low, high = int(domain["n_slices"][0]), int(domain["n_slices"][1])
    if n_slices > high:
        # Coverage wins over the thickness range: a stack must hold base to apex, so a domain
        # with few slices gets a larger slice step (as a coarse real acquisition would).
        step = (coverage + 0.5 * step) / max(high - 1 - base_offset, 0.5)
        n_slices = high
    n_slices = max(n_slices, low)  # extra slices lie past the apex: empty, as in real stacks
    top = heart.length + base_offset * step
    depths = tuple(float(top - k * step) for k in range(n_slices))
    # Keep the heart within the central ~60 % of the field of view.
    heart_px = (nx * rng.uniform(0.42, 0.58), ny * rng.uniform(0.42, 0.58))
    rotation = _random_rotation(rng, float(domain["oblique_deg"]))
    origin = tuple(float(v) for v in rng.uniform(-150.0, 150.0, size=3))
    return CaseGeometry(
        matrix=(nx, ny),
        spacing=(spacing, spacing_y),
        thickness=thickness,
        slice_spacing=step,
        depths=depths,
        heart_px=heart_px,
        direction=tuple(float(v) for v in rotation.ravel()),
        origin=origin,  # type: ignore[arg-type]
    )


def _crop_box(centre: float, half: float, size: int) -> tuple[int, int]:
    lo = int(np.clip(np.floor(centre - half), 0, size))
    hi = int(np.clip(np.ceil(centre + half), 0, size))
    return lo, hi


def render_case(
    rng: np.random.Generator,
    domain: Mapping[str, Any],
    group: str,
    dtype: str,
    ef_spread: float = 0.03,
) -> PhantomCase:
    """Render every frame of one case (heart at 3x supersampling inside a crop, thorax at 1x)."""
    es_fraction = _uniform(rng, domain["es_fraction"])
    heart = sample_heart(group, rng, es_fraction, ef_spread)
    geo = sample_geometry(rng, domain, heart)
    n_frames = _integer(rng, domain["n_frames"])
    es_frame = int(np.clip(round(es_fraction * n_frames), 1, n_frames - 1)) + 1
    nx, ny = geo.matrix
    sx, sy = geo.spacing
    nz = len(geo.depths)
    x_mm = (np.arange(nx, dtype=np.float32) - geo.heart_px[0]) * sx
    y_mm = (np.arange(ny, dtype=np.float32) - geo.heart_px[1]) * sy
    grid_x, grid_y = np.meshgrid(x_mm, y_mm)  # (ny, nx)

    intensities = domain["intensities"]
    offset_mm = ((geo.heart_px[0] - nx / 2) * sx, (geo.heart_px[1] - ny / 2) * sy)
    thorax = sample_thorax(rng, offset_mm)
    texture = smooth_field(rng, (nz, ny, nx), (0.6, 4.0 / sy * 2, 4.0 / sx * 2))
    tex_amp = float(domain["texture"])
    slices = np.stack([thorax_slice(thorax, grid_x, grid_y, d, intensities) for d in geo.depths])
    # Soften the thorax edges (rendered at 1x) to a partial-volume-like width of ~1 pixel.
    static = ndimage.gaussian_filter(slices, (0.0, 0.7, 0.7)) * (1.0 + tex_amp * texture)
    fov = float(max(nx * sx, ny * sy))
    bias = bias_field(rng, grid_x, grid_y, fov, _uniform(rng, domain["bias_strength"]))
    tissue_values = heart_tissue_intensities(intensities)
    # Which label each heart tissue counts towards (fat and RV free wall are background).
    tissue_to_label = np.zeros((4, len(tissue_values)), dtype=np.float32)
    tissue_to_label[BACKGROUND, [TISSUE_INDEX[n] for n in ("none", "fat", "rv_wall")]] = 1.0
    tissue_to_label[RV_CAVITY, TISSUE_INDEX["rv_blood"]] = 1.0
    tissue_to_label[LV_MYOCARDIUM, TISSUE_INDEX["myo"]] = 1.0
    tissue_to_label[LV_CAVITY, [TISSUE_INDEX["lv_blood"], TISSUE_INDEX["papillary"]]] = 1.0

    lv_outer = heart.lv_radius + heart.wall
    half_mm = lv_outer + rv_depth(heart) + 12.0  # LV, RV crescent, its wall and fat
    factor = SUPERSAMPLING
    offsets = (np.arange(factor, dtype=np.float32) + 0.5) / factor - 0.5
    images = np.empty((n_frames, nz, ny, nx), dtype=np.float32)
    labels = np.zeros((n_frames, nz, ny, nx), dtype=np.uint8)
    noise, scale = _uniform(rng, domain["noise"]), _uniform(rng, domain["intensity_scale"])
    for t in range(n_frames):
        phase = t / n_frames
        clean = static.copy()
        for k, depth in enumerate(geo.depths):
            centre_x = geo.heart_px[0] + heart.drift[0] * depth / sx
            centre_y = geo.heart_px[1] + heart.drift[1] * depth / sy
            x0, x1 = _crop_box(centre_x, half_mm / sx, nx)
            y0, y1 = _crop_box(centre_y, half_mm / sy, ny)
            if x1 <= x0 or y1 <= y0 or not cuts_heart(heart, depth, phase):
                continue  # labels stay background; the thorax image is already in place
            sub_x = ((np.arange(x0, x1)[:, None] + offsets[None, :]).ravel() - geo.heart_px[0]) * sx
            sub_y = ((np.arange(y0, y1)[:, None] + offsets[None, :]).ravel() - geo.heart_px[1]) * sy
            gx, gy = np.meshgrid(sub_x, sub_y)
            fractions = render_heart_slice(heart, depth, phase, gx, gy, factor)
            region = clean[k, y0:y1, x0:x1]
            heart_value = np.tensordot(tissue_values, fractions, axes=1)
            tex = 1.0 + 0.3 * tex_amp * texture[k, y0:y1, x0:x1]
            clean[k, y0:y1, x0:x1] = fractions[0] * region + heart_value * tex
            # Label = the structure covering most of the pixel (background includes fat/RV wall).
            per_label = np.tensordot(tissue_to_label, fractions, axes=1)
            labels[t, k, y0:y1, x0:x1] = np.argmax(per_label, axis=0).astype(np.uint8)
        images[t] = acquire(
            clean, bias[None], rng, gamma=float(domain["gamma"]), noise=noise, scale=scale
        )
    return PhantomCase(heart, geo, images, labels, es_frame, dtype)


def _case_rng(seed: int, split: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, split, index])


def generate_dataset(
    fmt: str,
    out_dir: Path,
    *,
    n_cases: int,
    n_testing: int = 0,
    seed: int = 0,
    domain: Mapping[str, Any] | None = None,
) -> None:
    """Write ``n_cases`` labelled (+ ``n_testing`` unlabelled) phantoms in ``fmt``'s layout.

    The folder appears complete or not at all (written to a temporary sibling, then renamed).
    """
    resolved = resolve_domain(fmt, domain)
    if n_cases < 1 or n_testing < 0:
        raise ValueError(f"need n_cases >= 1 and n_testing >= 0, got {n_cases}, {n_testing}")
    from dmr.datasets import phantom_writers

    writer = {"acdc": phantom_writers.write_acdc_case, "lvsc": phantom_writers.write_lvsc_case}[fmt]
    jobs = [(0, i, i) for i in range(n_cases)] + [(1, i, n_cases + i) for i in range(n_testing)]
    with atomic_dir(out_dir) as tmp:
        if fmt == "acdc":
            phantom_writers.write_acdc_citation(tmp)
        for split, index, number in tqdm(jobs, desc=f"{fmt} phantoms", unit="case", leave=False):
            rng = _case_rng(seed, split, index)
            # ACDC: groups round-robin (equal numbers). LVSC: post-infarction patients with a
            # wide spread of EF, as in the Cardiac Atlas Project cohort.
            group = ACDC_GROUPS[number % len(ACDC_GROUPS)] if fmt == "acdc" else "MINF"
            ef_spread = 0.03 if fmt == "acdc" else 0.12
            dtype = str(rng.choice(resolved["dtypes"]))
            case = render_case(rng, resolved, group, dtype, ef_spread)
            writer(tmp, case, number=number + 1, testing=split == 1, seed=seed, rng=rng)
