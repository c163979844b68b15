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
from dmr.datasets.phantom_domains import DEFAULT_DOMAINS, resolve_domain
from dmr.datasets.phantom_imaging import (
    acquire,
    bias_field,
    heart_tissue_intensities,
    sample_thorax,
    smooth_field,
    thorax_slice,
)
from dmr.io import atomic_dir
from dmr.labels import BACKGROUND, LV_CAVITY, LV_MYOCARDIUM, RV_CAVITY

__all__ = ["ACDC_GROUPS", "DEFAULT_DOMAINS", "generate_dataset", "render_case", "resolve_domain"]

ACDC_GROUPS: tuple[str, ...] = ("NOR", "MINF", "DCM", "HCM", "RV")
SUPERSAMPLING = 3


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
    jobs = [(0, i, i) for i in range(n_cases)] + [(1, i, n_cases + i) for i in range(n_testing)]
    write_case, finish = _writers(fmt)
    vendors = list(resolved.get("vendors", {}))
    rows: list[dict[str, str]] = []
    with atomic_dir(out_dir) as tmp:
        for split, index, number in tqdm(jobs, desc=f"{fmt} phantoms", unit="case", leave=False):
            rng = _case_rng(seed, split, index)
            # ACDC-like formats: groups round-robin (equal numbers). LVSC: post-infarction
            # patients with a wide spread of EF, as in the Cardiac Atlas Project cohort.
            group = ACDC_GROUPS[number % len(ACDC_GROUPS)] if fmt != "lvsc" else "MINF"
            ef_spread = 0.12 if fmt == "lvsc" else 0.03
            vendor = vendors[number % len(vendors)] if vendors else None
            case_domain = _vendor_domain(resolved, vendor)
            dtype = str(rng.choice(case_domain["dtypes"]))
            case = render_case(rng, case_domain, group, dtype, ef_spread)
            rows.append(
                write_case(
                    tmp,
                    case,
                    number=number + 1,
                    testing=split == 1,
                    seed=seed,
                    rng=rng,
                    group=group,
                    vendor=vendor,
                )
                or {}
            )
        finish(tmp, rows)


def _vendor_domain(domain: Mapping[str, Any], vendor: str | None) -> dict[str, Any]:
    """The domain of one vendor's scanner: the format's domain with that vendor's overrides."""
    merged = copy.deepcopy(dict(domain))
    if vendor is None:
        return merged
    for key, value in domain["vendors"][vendor].items():
        if key == "intensities":
            merged[key] = {**merged[key], **{k: float(v) for k, v in value.items()}}
        else:
            merged[key] = value
    return merged


def _writers(fmt: str) -> tuple[Any, Any]:
    """The format's case writer and the function that writes its dataset-level files.

    Writers take ``(root, case, *, number, testing, seed, rng, group, vendor)`` and may return a
    row of per-case metadata; the finisher gets every row (``dataset.json``, a vendor CSV, ...).
    """
    if fmt == "nnunet":
        from dmr.datasets import phantom_nnunet

        return phantom_nnunet.write_nnunet_case, phantom_nnunet.finish_nnunet
    if fmt == "mnms":
        from dmr.datasets import phantom_mnms

        return phantom_mnms.write_mnms_case, phantom_mnms.finish_mnms
    from dmr.datasets import phantom_writers

    if fmt == "acdc":
        return (
            phantom_writers.write_acdc_case,
            lambda root, rows: phantom_writers.write_acdc_citation(root),
        )
    return phantom_writers.write_lvsc_case, lambda root, rows: None
