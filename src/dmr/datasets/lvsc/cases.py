"""LVSC studies as cases: ES found from the masks' LV cavity, frames loaded on demand."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import numpy as np
from scipy import ndimage

from dmr.datasets.case import Case, Frame
from dmr.datasets.lvsc.files import (
    FORMAT,
    StudyFiles,
    index_study_files,
    list_study_dirs,
    missing_root_message,
    study_problems,
    study_root,
)
from dmr.datasets.lvsc.geometry import masks_to_label, spatial_order, stack_slices
from dmr.datasets.lvsc.images import read_dicom_slice, read_mask
from dmr.errors import DatasetError

log = logging.getLogger(__name__)

#: ``es_frame`` of a study without masks (ES cannot be measured; see the package docstring).
UNKNOWN_FRAME = 0


def cavity_voxels(masks: list[np.ndarray]) -> int:
    """LV cavity size of one frame: each slice's filled myocardium ring minus the ring, summed.

    The holes are found within the ring's bounding box grown by one pixel of background, which
    is exactly the fill of the whole slice (a background region reaching the box edge reaches the
    slice border too). They are the background components (4-connected, as
    ``ndimage.binary_fill_holes`` propagates) other than the one of the box's border: one
    labelling pass instead of the fill's iterated dilation, as every reader runs this on every
    mask of a study.
    """
    total = 0
    for mask in masks:
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        box = np.pad(mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 1)
        background, _ = ndimage.label(~box)
        outside = background[0, 0]  # the padding: one background component around the box
        total += int(np.count_nonzero(background)) - int(np.count_nonzero(background == outside))
    return total


def end_systolic_frame(cavity_by_frame: dict[int, int]) -> int:
    """The frame (1-based) with the smallest LV cavity; the earliest one on ties."""
    return min(sorted(cavity_by_frame), key=lambda frame: cavity_by_frame[frame])


# --------------------------------------------------------------------------- cases
def load_frame(files: StudyFiles, frame: int) -> Frame:
    """Read frame ``frame`` (1-based): spatially ordered 3-D image and myocardium label."""
    keys = files.slice_keys(frame)
    if not keys:
        raise DatasetError(f"{files.folder}: no DICOMs for phase {frame - 1} (frame {frame})")
    slices = [read_dicom_slice(files.dicoms[key]) for key in keys]
    order = spatial_order(slices)
    slices = [slices[i] for i in order]
    keys = [keys[i] for i in order]
    image = stack_slices(slices)
    if not files.masks:
        return Frame(frame=frame, image=image, label=None)
    masks: list[np.ndarray] = []
    for key, dicom in zip(keys, slices, strict=True):
        mask_path = files.masks.get(key)
        if mask_path is None:
            raise DatasetError(f"{dicom.path}: missing mask {dicom.path.stem}.png")
        mask = read_mask(mask_path)
        if mask.shape != dicom.pixels.shape:
            raise DatasetError(
                f"{mask_path}: mask shape {mask.shape} differs from the image's "
                f"{dicom.pixels.shape}"
            )
        masks.append(mask)
    return Frame(frame=frame, image=image, label=masks_to_label(masks, image))


def read_case(study_dir: Path, mask_dir: Path | None = None) -> Case:
    """One study: file index and ED/ES now (reads the masks), image data on demand.

    ``mask_dir``: a folder of this study's masks outside the study folder (consensus images).
    """
    files = index_study_files(study_dir, mask_dir)
    problems = study_problems(files, require_masks=False)
    if problems:
        raise DatasetError("; ".join(problems))
    n_frames = len(files.phases)
    labelled = bool(files.masks)
    es_frame = UNKNOWN_FRAME
    if labelled:
        cavities = {
            frame: cavity_voxels([read_mask(files.masks[key]) for key in files.slice_keys(frame)])
            for frame in range(1, n_frames + 1)
        }
        es_frame = end_systolic_frame(cavities)
    n_slices = len(files.slice_keys(1))
    return Case(
        case_id=files.study_id,
        dataset_format=FORMAT,
        group=None,
        ed_frame=1,
        es_frame=es_frame,
        n_frames=n_frames,
        labelled_frames=tuple(range(1, n_frames + 1)) if labelled else (),
        path=study_dir,
        loader=partial(load_frame, files),
        info={"n_slices": str(n_slices)},
    )


def read_cases(root: Path, split: str = "training", masks_root: Path | None = None) -> list[Case]:
    """List the studies of one LVSC split, sorted by study id; frames load lazily.

    ``masks_root``: a folder holding one ``DETnnnnnnn/`` folder of masks per study, named like the
    training masks (``DETnnnnnnn_SA{slice}_ph{phase}.png``): the challenge's consensus (CS*)
    myocardium of the validation split, which is distributed apart from the images.
    """
    root = Path(root)
    folder = study_root(root, split)
    if masks_root is not None and not Path(masks_root).is_dir():
        raise DatasetError(
            f"{masks_root}: folder of LVSC reference masks (consensus images) not found"
        )
    study_dirs = list_study_dirs(folder)
    if not study_dirs:
        raise DatasetError(f"{folder}: no DETnnnnnnn study folders. " + missing_root_message(root))
    cases = []
    for number, study_dir in enumerate(study_dirs, start=1):
        mask_dir = None if masks_root is None else Path(masks_root) / study_dir.name
        cases.append(read_case(study_dir, mask_dir))
        log.debug("listed LVSC study %s (%d/%d)", study_dir.name, number, len(study_dirs))
    return cases
