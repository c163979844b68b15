"""Beating-heart geometry of the cine-MR phantoms: LV as a truncated prolate ellipsoid, RV crescent.

Everything here is in millimetres in the short-axis slice frame. The heart is described by a few
group-specific numbers (:class:`HeartModel`); :func:`render_heart_slice` turns one slice of one
frame into per-pixel tissue fractions by rendering at a supersampled grid and block-averaging,
which gives the partial-volume edges a real acquisition has.

Contraction model (why it gives the wanted EF): the apex stays fixed and the ventricle shortens
along its axis by ``Ls(t)``; the cavity radius is scaled by ``sqrt((1 - EF*c(t)) / Ls(t))``, so
the cavity volume (radius² × length) follows ``1 - EF*c(t)`` exactly in the continuum, and the
myocardial cross-section area of each material level is conserved (incompressible wall thickening).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Tissue classes rendered by the heart model, in the order of the fraction arrays.
HEART_TISSUES: tuple[str, ...] = (
    "none",
    "fat",
    "rv_wall",
    "rv_blood",
    "myo",
    "lv_blood",
    "papillary",
)
TISSUE_INDEX = {name: i for i, name in enumerate(HEART_TISSUES)}

#: Group physiology: (LV ED radius mm, wall mm, LV length mm, EF, RV size factor, RV EF).
GROUP_PHYSIOLOGY: dict[str, tuple[float, float, float, float, float, float]] = {
    "NOR": (24.0, 9.0, 78.0, 0.62, 1.0, 0.55),
    "DCM": (33.0, 6.0, 95.0, 0.20, 1.1, 0.35),
    "HCM": (21.0, 16.0, 72.0, 0.72, 0.95, 0.60),
    "MINF": (27.0, 9.0, 85.0, 0.35, 1.05, 0.45),
    "RV": (23.0, 8.5, 76.0, 0.58, 1.6, 0.30),
}


@dataclass(frozen=True)
class HeartModel:
    """Group-specific anatomy and physiology of one synthetic heart (ED reference state)."""

    group: str
    lv_radius: float  # ED endocardial radius at the equator (mm)
    wall: float  # ED wall thickness at the equator (mm)
    length: float  # ED endocardial apex-to-base distance (mm)
    ef: float  # target LV ejection fraction
    rv_size: float  # RV crescent size factor (1 = normal)
    rv_ef: float  # target RV ejection fraction
    es_fraction: float  # ES time as a fraction of the cycle
    ellipticity: float  # in-plane axis ratio of the LV (≤ 1)
    rotation: float  # in-plane angle (rad) of the septum direction
    drift: tuple[float, float]  # in-plane shift of the LV centre per mm along the long axis
    infarct_angle: float  # centre (rad, heart frame) of the akinetic sector; MINF only
    infarct_width: float  # angular width (rad) of the akinetic sector; 0 = no infarct
    fat_phase: float  # phase of the patchy epicardial fat pattern
    endo_wobble: tuple[float, float]  # amplitudes of cos(2θ), sin(3θ) endocardial irregularity

    @property
    def apex_wall(self) -> float:
        """Wall thickness beyond the endocardial apex (the apex is thinner than the mid wall)."""
        return 0.6 * self.wall

    @property
    def long_axis_shortening(self) -> float:
        """Fractional base-to-apex shortening at ES; stronger hearts shorten more."""
        return float(np.clip(0.16 * self.ef / 0.6, 0.03, 0.2))


def sample_heart(
    group: str, rng: np.random.Generator, es_fraction: float, ef_spread: float = 0.03
) -> HeartModel:
    """Draw one heart of ``group`` with subject-to-subject variation (EF s.d. ``ef_spread``)."""
    if group not in GROUP_PHYSIOLOGY:
        raise ValueError(f"unknown group {group!r}; expected one of {sorted(GROUP_PHYSIOLOGY)}")
    radius, wall, length, ef, rv_size, rv_ef = GROUP_PHYSIOLOGY[group]
    infarct = group == "MINF"
    return HeartModel(
        group=group,
        lv_radius=radius * rng.uniform(0.9, 1.1),
        wall=wall * rng.uniform(0.9, 1.1),
        length=length * rng.uniform(0.92, 1.08),
        ef=float(np.clip(ef + rng.normal(0.0, ef_spread), 0.12, 0.8)),
        rv_size=rv_size * rng.uniform(0.92, 1.08),
        rv_ef=float(np.clip(rv_ef + rng.normal(0.0, 0.03), 0.1, 0.75)),
        es_fraction=es_fraction,
        ellipticity=rng.uniform(0.88, 1.0),
        rotation=rng.uniform(0.0, 2.0 * np.pi),
        drift=(rng.uniform(-0.12, 0.12), rng.uniform(-0.12, 0.12)),
        infarct_angle=rng.uniform(np.pi * 0.6, np.pi * 1.4) if infarct else 0.0,
        infarct_width=rng.uniform(1.2, 1.9) if infarct else 0.0,
        fat_phase=rng.uniform(0.0, 2.0 * np.pi),
        endo_wobble=(rng.uniform(-0.05, 0.05), rng.uniform(-0.04, 0.04)),
    )


def cuts_heart(heart: HeartModel, depth_from_apex: float, phase: float) -> bool:
    """Whether a slice at ``depth_from_apex`` (mm) meets the ventricles at ``phase``."""
    shorten = 1.0 - heart.long_axis_shortening * contraction(phase, heart.es_fraction)
    return -heart.apex_wall <= depth_from_apex / shorten <= heart.length


def rv_depth(heart: HeartModel) -> float:
    """ED thickness (mm) of the RV cavity crescent at the base, on the septal axis."""
    return 6.0 + 10.0 * heart.rv_size**2


def contraction(phase: float, es_fraction: float) -> float:
    """Smooth contraction state in [0, 1] over the cycle: 0 at ED (phase 0), 1 at ES.

    Systole is a half cosine up to ES; diastole is rapid filling, diastasis and an atrial kick,
    made of smooth pieces so the volume curve has no kinks.
    """
    phase = phase % 1.0
    if phase <= es_fraction:
        return 0.5 * (1.0 - np.cos(np.pi * phase / es_fraction))
    x = (phase - es_fraction) / (1.0 - es_fraction)  # 0..1 through diastole
    if x < 0.4:  # rapid filling recovers three quarters of the stroke volume
        return float(0.25 + 0.375 * (1.0 + np.cos(np.pi * x / 0.4)))
    if x < 0.75:  # diastasis: slow filling
        return float(0.25 - 0.05 * (x - 0.4) / 0.35)
    # atrial kick fills the rest before the next ED
    return float(0.1 * (1.0 + np.cos(np.pi * (x - 0.75) / 0.25)))


def _ellipsoid_radius(depth: np.ndarray | float, centre: float, semi_axis: float, radius: float):
    """Radius of a prolate ellipsoid's cross-section at ``depth`` along its axis (0 outside)."""
    z = (np.asarray(depth, dtype=np.float64) - centre) / semi_axis
    return radius * np.sqrt(np.clip(1.0 - z * z, 0.0, None))


def _sector_weight(cos_delta: np.ndarray, width: float) -> np.ndarray:
    """Smooth weight of an angular sector from the cosine of the angle to its centre.

    1 at the centre, falling to 0 at half the width; computed from a cosine (no arctan) to keep
    the per-pixel cost low.
    """
    if width <= 0:
        return np.zeros_like(cos_delta)
    edge = np.cos(width / 2.0)
    return np.clip((cos_delta - edge) / (1.0 - edge), 0.0, 1.0) ** 0.7


def render_heart_slice(
    heart: HeartModel,
    depth_from_apex: float,
    phase: float,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    factor: int,
) -> np.ndarray:
    """Tissue fractions (len(HEART_TISSUES), H, W) of one slice at one cardiac phase.

    ``x_mm``/``y_mm`` are the supersampled pixel-centre coordinates (H*factor, W*factor) relative
    to the LV centre at the apex level; ``depth_from_apex`` is the slice position (mm) along the
    long axis measured from the ED endocardial apex towards the base.
    """
    c = contraction(phase, heart.es_fraction)
    shorten = 1.0 - heart.long_axis_shortening * c
    depth0 = depth_from_apex / shorten  # material level (ED) seen by this fixed slice
    eq = 0.8 * heart.length  # equator depth: the base is truncated above it
    radial_scale = np.sqrt((1.0 - heart.ef * c) / shorten)

    cx = heart.drift[0] * depth_from_apex
    cy = heart.drift[1] * depth_from_apex
    cos_r, sin_r = np.cos(heart.rotation), np.sin(heart.rotation)
    xr = (x_mm - cx) * cos_r + (y_mm - cy) * sin_r
    yr = -(x_mm - cx) * sin_r + (y_mm - cy) * cos_r
    rho = np.sqrt(xr**2 + (yr / heart.ellipticity) ** 2) * np.sqrt(heart.ellipticity)
    radius = np.maximum(np.hypot(xr, yr), 1e-6)
    cos_t, sin_t = xr / radius, yr / radius  # polar angle; septum (towards the RV) at 0
    cos2 = 2.0 * cos_t**2 - 1.0  # harmonics from the polynomial identities (no arctan)
    cos3 = cos_t * (4.0 * cos_t**2 - 3.0)
    sin3 = sin_t * (3.0 - 4.0 * sin_t**2)

    labels = np.zeros(x_mm.shape, dtype=np.uint8)  # tissue index per supersampled pixel
    inside_heart = -heart.apex_wall <= depth0 <= heart.length
    if inside_heart:
        r_endo0 = float(_ellipsoid_radius(max(depth0, 0.0), eq, eq, heart.lv_radius))
        if depth0 < 0:
            r_endo0 = 0.0
        r_epi0 = float(
            _ellipsoid_radius(depth0, eq, eq + heart.apex_wall, heart.lv_radius + heart.wall)
        )
        # Infarct: thinned, akinetic sector in the mid-apical two thirds.
        axial = float(np.clip((0.75 * heart.length - depth0) / (0.15 * heart.length), 0, 1))
        cos_delta = cos_t * np.cos(heart.infarct_angle) + sin_t * np.sin(heart.infarct_angle)
        sector = _sector_weight(cos_delta, heart.infarct_width) * axial
        wall_area0 = (r_epi0**2 - r_endo0**2) * (1.0 - 0.6 * sector)
        # A slightly irregular (not perfectly circular) endocardium, as trabeculae make it look.
        wobble = 1.0 + heart.endo_wobble[0] * cos2 + heart.endo_wobble[1] * sin3
        r_endo = r_endo0 * (radial_scale * (1.0 - sector) + sector) * wobble
        r_epi = np.sqrt(r_endo**2 + wall_area0 / shorten)

        # RV: ellipse on the septal side minus the LV, tapering to nothing before the apex.
        from_base = heart.length - depth0
        rv_taper = float(np.sqrt(np.clip(1.0 - (from_base / (0.72 * heart.length)) ** 2, 0, 1)))
        # Patchy epicardial fat: thickness varies as sin(3 theta + phase), via cos/sin of 3 theta.
        fat_angle = sin3 * np.cos(heart.fat_phase) + cos3 * np.sin(heart.fat_phase)
        fat_width = 2.5 * (1.0 + 0.9 * fat_angle)
        rv_blood = np.zeros(x_mm.shape, dtype=bool)
        rv_outer = np.zeros(x_mm.shape, dtype=bool)
        if rv_taper > 0.05:
            lv_outer = heart.lv_radius + heart.wall
            rv_c = c * heart.rv_ef
            depth_rv = rv_depth(heart) * rv_taper * (1.0 - rv_c) ** 0.7
            half_width = 1.1 * lv_outer * np.sqrt(heart.rv_size) * rv_taper**0.5
            half_width *= (1.0 - rv_c) ** 0.3
            centre = 0.5 * lv_outer
            ax = 0.5 * lv_outer + depth_rv
            ell = ((xr - centre) / ax) ** 2 + (yr / max(half_width, 1e-3)) ** 2
            rv_blood = ell <= 1.0
            wall_ell = ((xr - centre) / (ax + 3.0)) ** 2 + (yr / (half_width + 3.0)) ** 2
            rv_outer = wall_ell <= 1.0
            fat_ell = ((xr - centre) / (ax + 3.0 + fat_width)) ** 2 + (
                yr / (half_width + 3.0 + fat_width)
            ) ** 2
            labels[fat_ell <= 1.0] = TISSUE_INDEX["fat"]
        labels[rho <= r_epi + fat_width] = TISSUE_INDEX["fat"]
        labels[rv_outer] = TISSUE_INDEX["rv_wall"]
        labels[rv_blood] = TISSUE_INDEX["rv_blood"]
        labels[rho <= r_epi] = TISSUE_INDEX["myo"]
        labels[rho <= r_endo] = TISSUE_INDEX["lv_blood"]
        # Papillary muscles: dark blobs inside the cavity of mid slices (labelled as cavity).
        if 0.3 * heart.length < depth0 < 0.8 * heart.length and r_endo0 > 0:
            r_cav = r_endo0 * radial_scale
            pap_r = 0.2 * r_cav * (1.0 + 0.4 * c)
            for angle in (np.pi - 0.75, np.pi + 0.75):
                px, py = 0.68 * r_cav * np.cos(angle), 0.68 * r_cav * np.sin(angle)
                blob = (xr - px) ** 2 + (yr - py) ** 2 <= pap_r**2
                labels[blob & (rho <= r_endo)] = TISSUE_INDEX["papillary"]
    return block_fractions(labels, factor, len(HEART_TISSUES))


def block_fractions(labels: np.ndarray, factor: int, n_classes: int) -> np.ndarray:
    """Fraction of each class in every ``factor`` x ``factor`` block (partial volume)."""
    h, w = labels.shape[0] // factor, labels.shape[1] // factor
    blocks = labels.reshape(h, factor, w, factor).transpose(0, 2, 1, 3).reshape(h * w, -1)
    index = blocks.astype(np.int64) + (np.arange(h * w, dtype=np.int64) * n_classes)[:, None]
    counts = np.bincount(index.ravel(), minlength=h * w * n_classes).reshape(h, w, n_classes)
    return np.moveaxis(counts.astype(np.float32) / float(factor * factor), -1, 0)
