"""One in-memory case model shared by every dataset reader.

A reader lists cases cheaply (paths and metadata) and loads image data lazily, one frame at a
time, so that memory stays bounded even for LVSC studies with ~20 labelled frames each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk


@dataclass(frozen=True)
class Frame:
    """One cardiac phase of one case as 3-D volumes in the file's own physical geometry.

    ``image`` is the short-axis stack (x, y, z) in its stored pixel type (int16 or float32);
    ``label`` is uint8 in the project convention (0 bg, 1 RV, 2 myo, 3 LV) with the same geometry,
    or ``None`` where the dataset has no reference for this frame.
    """

    frame: int
    image: sitk.Image
    label: sitk.Image | None


@dataclass(frozen=True)
class Case:
    """A study: identity, clinical group, ED/ES frame numbers (1-based) and a lazy frame loader."""

    case_id: str
    dataset_format: str
    group: str | None
    ed_frame: int
    es_frame: int
    n_frames: int
    labelled_frames: tuple[int, ...]
    path: Path
    loader: Callable[[int], Frame] = field(repr=False, compare=False)
    info: Mapping[str, str] = field(default_factory=dict, compare=False)
    cine_path: Path | None = None

    def frame_of(self, phase: str) -> int:
        """Frame number (1-based) of phase ``"ED"`` or ``"ES"``."""
        if phase == "ED":
            return self.ed_frame
        if phase == "ES":
            return self.es_frame
        raise ValueError(f"unknown phase {phase!r}; expected 'ED' or 'ES'")

    def load_frame(self, frame: int) -> Frame:
        """Read one frame (1-based) from disk."""
        if not 1 <= frame <= self.n_frames:
            raise ValueError(f"{self.case_id}: frame {frame} outside 1..{self.n_frames}")
        return self.loader(frame)

    def load_phase(self, phase: str) -> Frame:
        """Read the ED or ES frame from disk."""
        return self.load_frame(self.frame_of(phase))
