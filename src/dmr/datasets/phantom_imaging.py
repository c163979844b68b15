"""Image formation of the cine-MR phantoms: thorax around the heart, texture, bias field, noise.

Separate from the heart geometry so that the two scanner "domains" (ACDC-like, LVSC-like) differ
only in the numbers passed here: tissue intensities, contrast curve (gamma), bias-field strength,
Rician noise level and the stored intensity scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from dmr.datasets.phantom_anatomy import HEART_TISSUES

#: Tissue intensity keys every domain's ``intensities`` mapping must define (relative units).
TISSUE_KEYS: tuple[str, ...] = ("blood", "myocardium", "fat", "lung", "liver", "muscle", "soft")


@dataclass(frozen=True)
class ThoraxLayout:
    """Where the non-cardiac tissue lies, in mm relative to the LV centre (image axes)."""

    body_centre: tuple[float, float]
    body_axes: tuple[float, float]
    fat_rim: float
    muscle_rim: float
    lung_offset: float
    lung_axes: tuple[float, float]
    liver_side: float  # +1 or -1: which side of the image the liver lies on
    spine_y: float


def sample_thorax(rng: np.random.Generator, heart_offset_mm: tuple[float, float]) -> ThoraxLayout:
    """Draw a plausible thorax; ``heart_offset_mm`` is the heart's offset from the FOV centre."""
    width = rng.uniform(150.0, 180.0)
    return ThoraxLayout(
        body_centre=(-heart_offset_mm[0] + rng.uniform(-8, 8), -heart_offset_mm[1] + 15.0),
        body_axes=(width, width * rng.uniform(0.62, 0.72)),
        fat_rim=rng.uniform(8.0, 16.0),
        muscle_rim=rng.uniform(8.0, 14.0),
        lung_offset=rng.uniform(62.0, 80.0),
        lung_axes=(rng.uniform(40.0, 55.0), rng.uniform(60.0, 80.0)),
        liver_side=float(rng.choice([-1.0, 1.0])),
        spine_y=rng.uniform(60.0, 75.0),
    )


def smooth_field(
    rng: np.random.Generator, shape: tuple[int, ...], sigma: tuple[float, ...]
) -> np.ndarray:
    """Zero-mean, unit-std smooth random field (Gaussian-filtered white noise)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    field -= field.mean()
    std = float(field.std())
    return field / std if std > 0 else field


def thorax_slice(
    layout: ThoraxLayout,
    x_mm: np.ndarray,
    y_mm: np.ndarray,
    depth_from_apex: float,
    intensities: Mapping[str, float],
) -> np.ndarray:
    """Intensity (relative units) of the non-cardiac tissue in one slice; static over the cycle."""
    bx, by = layout.body_centre
    ax, ay = layout.body_axes
    body_r = np.sqrt(((x_mm - bx) / ax) ** 2 + ((y_mm - by) / ay) ** 2)
    image = np.zeros(x_mm.shape, dtype=np.float32)  # air outside the body
    mean_axis = 0.5 * (ax + ay)
    inner_fat = 1.0 - layout.fat_rim / mean_axis
    inner_muscle = inner_fat - layout.muscle_rim / mean_axis
    image[body_r <= 1.0] = intensities["fat"]
    image[body_r <= inner_fat] = intensities["muscle"]
    image[body_r <= inner_muscle] = intensities["soft"]
    lung_a, lung_b = layout.lung_axes
    for side in (-1.0, 1.0):
        lung = ((x_mm - side * layout.lung_offset) / lung_a) ** 2 + ((y_mm + 5.0) / lung_b) ** 2
        image[(lung <= 1.0) & (body_r <= inner_muscle)] = intensities["lung"]
    # The liver dome rises into the lower (apical) short-axis slices and sinks out towards the base.
    liver_y = 70.0 + 0.8 * max(depth_from_apex, 0.0)
    liver = ((x_mm - layout.liver_side * 50.0) / 75.0) ** 2 + ((y_mm - liver_y) / 55.0) ** 2
    image[(liver <= 1.0) & (body_r <= inner_muscle)] = intensities["liver"]
    # Spine (dark bone) with the descending aorta (bright blood) beside it.
    spine = (x_mm / 14.0) ** 2 + ((y_mm - layout.spine_y) / 16.0) ** 2
    image[spine <= 1.0] = 0.5 * intensities["muscle"]
    aorta = ((x_mm + 22.0) / 11.0) ** 2 + ((y_mm - layout.spine_y + 18.0) / 11.0) ** 2
    image[aorta <= 1.0] = intensities["blood"]
    return image


def heart_tissue_intensities(intensities: Mapping[str, float]) -> np.ndarray:
    """Intensity of each heart-model tissue (``HEART_TISSUES`` order); 'none' is unused."""
    table = {
        "none": 0.0,
        "fat": intensities["fat"],
        "rv_wall": intensities["myocardium"],
        "rv_blood": intensities["blood"],
        "myo": intensities["myocardium"],
        "lv_blood": intensities["blood"],
        "papillary": intensities["myocardium"],
    }
    return np.array([table[name] for name in HEART_TISSUES], dtype=np.float32)


def bias_field(
    rng: np.random.Generator, x_mm: np.ndarray, y_mm: np.ndarray, fov_mm: float, strength: float
) -> np.ndarray:
    """Smooth multiplicative coil-sensitivity field ``exp(strength * f)``, f of order ±1."""
    gx, gy = rng.normal(0.0, 0.6, size=2)
    px, py = rng.uniform(-0.3, 0.3, size=2) * fov_mm
    bump = np.exp(-((x_mm - px) ** 2 + (y_mm - py) ** 2) / (2.0 * (0.35 * fov_mm) ** 2))
    field = gx * x_mm / fov_mm * 2.0 + gy * y_mm / fov_mm * 2.0 + (bump - 0.5) * 1.2
    return np.exp(strength * field).astype(np.float32)


def acquire(
    clean: np.ndarray,
    bias: np.ndarray,
    rng: np.random.Generator,
    *,
    gamma: float,
    noise: float,
    scale: float,
) -> np.ndarray:
    """Apply the scanner: contrast curve, bias field, Rician noise, intensity scale (float32).

    Rician noise is the magnitude of the complex signal with Gaussian noise on both channels,
    which is what a magnitude MR image shows (bright background speckle floor, biased low SNR).
    """
    signal = np.clip(clean, 0.0, None, dtype=np.float32)
    if gamma != 1.0:
        signal = np.power(signal, np.float32(gamma))
    signal *= bias
    real = signal + np.float32(noise) * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = np.float32(noise) * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.hypot(real, imag) * np.float32(scale)
