"""Image panels shared by the case figures: label overlays, crops around the heart, 3-D surfaces."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

from dmr.figures.style import LABEL_COLOURS

OVERLAY_ALPHA = 0.45


def overlay_rgba(label2d: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """RGBA image: each structure in its colour at ``alpha``, background transparent."""
    rgba = np.zeros((*label2d.shape, 4), dtype=np.float32)
    for value, colour in LABEL_COLOURS.items():
        mask = label2d == value
        rgba[mask, :3] = colour
        rgba[mask, 3] = alpha
    return rgba


def crop_window(
    foreground: np.ndarray, spacing: tuple[float, float], half_mm: float = 70.0
) -> tuple[slice, slice]:
    """Row/column slices of a window ``2*half_mm`` wide centred on the foreground of a 2-D mask
    (``spacing`` = (row, column) mm); the image centre when there is no foreground."""
    rows, cols = np.nonzero(foreground)
    ny, nx = foreground.shape
    cy, cx = (rows.mean(), cols.mean()) if rows.size else (ny / 2.0, nx / 2.0)
    hy, hx = half_mm / spacing[0], half_mm / spacing[1]
    r0, r1 = int(max(cy - hy, 0)), int(min(cy + hy, ny))
    c0, c1 = int(max(cx - hx, 0)), int(min(cx + hx, nx))
    return slice(r0, r1), slice(c0, c1)


def intensity_window(image: np.ndarray) -> tuple[float, float]:
    """Display range: 1st to 99.5th percentile (bright flow artefacts do not wash out the heart)."""
    low, high = np.percentile(image, [1.0, 99.5])
    return float(low), (float(high) if high > low else float(low) + 1.0)


def show_slice(
    ax: Axes,
    image: np.ndarray,
    label: np.ndarray | None,
    spacing: tuple[float, float],
    window: tuple[float, float],
) -> None:
    """Grey image (physical aspect from ``spacing`` = (row, column) mm) with a label overlay."""
    ny, nx = image.shape
    extent = (0.0, nx * spacing[1], ny * spacing[0], 0.0)
    ax.imshow(image, cmap="gray", vmin=window[0], vmax=window[1], extent=extent)
    if label is not None:
        ax.imshow(overlay_rgba(label), extent=extent)
    bare(ax)


def bare(ax: Axes) -> None:
    """No ticks and no frame: image panels sit side by side like the paper's."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def draw_surfaces(
    ax: Axes,
    surfaces: dict[int, tuple[np.ndarray, np.ndarray]],
    limits: tuple[np.ndarray, np.ndarray],
) -> None:
    """Triangle meshes (``label -> (vertices (N, 3) in mm as x, y, z, faces (M, 3))``) in their
    structure colours, shaded, on a 3-D axes with equal physical scale within ``limits``."""
    alphas = {2: 0.35}  # the myocardium is see-through so the LV cavity inside stays visible
    for value, (vertices, faces) in sorted(surfaces.items()):
        mesh = Poly3DCollection(
            vertices[faces],
            facecolors=LABEL_COLOURS[value],
            alpha=alphas.get(value, 0.85),
            linewidths=0.0,
            shade=True,
            # A raster in the PDF: tens of thousands of triangles would make it huge and slow.
            rasterized=True,
        )
        ax.add_collection3d(mesh)
    low, high = limits
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    # Slice index grows downwards in the 2-D reformats; keep that direction in 3-D.
    ax.set_zlim(high[2], low[2])
    ax.set_box_aspect(tuple(np.maximum(high - low, 1e-6)), zoom=1.5)
    ax.set_axis_off()
