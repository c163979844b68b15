"""Reader of the LV Segmentation Challenge 2011 layout (Cardiac Atlas Project) into cases.

Layout: one folder per study, one 2-D DICOM per short-axis slice and phase, and a binary
myocardium mask (PNG, {0, 255} or {0, 1}) for every DICOM::

    <root>/DETnnnnnnn/DETnnnnnnn_SA{slice}_ph{phase}.dcm    slice 1-based, phase 0-based
    <root>/DETnnnnnnn/DETnnnnnnn_SA{slice}_ph{phase}.png
    <root>/validation/DETnnnnnnn/...                          split "validation" (DICOMs)
    <masks_root>/DETnnnnnnn/DETnnnnnnn_SA{slice}_ph{phase}.png    its consensus (CS*) masks

Indices are not zero-padded and extensions may be upper case; other files are ignored. Frame
``f`` (1-based, as everywhere in this project) is phase ``f - 1``.

Conversion choices, stated once:

* **Slice order.** A frame's 3-D volume is stacked by each slice's position along the slice
  normal (``normal = row x col`` of ImageOrientationPatient, ``position = ImagePositionPatient .
  normal``), not by the SA index, which real studies do not always number spatially. The volume's
  origin is the first slice's ImagePositionPatient, its direction matrix has columns
  ``[row, col, normal]``, its spacing is (column spacing, row spacing) from PixelSpacing and the
  slice step measured from the positions (SliceThickness for a single-slice study). Unevenly
  spaced slices (any gap more than 10 % off the median) cannot be represented on a regular grid
  and are an error rather than silently resampled.
* **Labels.** Mask foreground becomes label 2 (LV myocardium, :mod:`dmr.labels`); the rest is 0.
* **ED / ES.** LVSC gives no phase annotation. ED is the first frame (ph0, the R-wave trigger).
  ES is the frame whose LV cavity is smallest, the cavity being each slice's myocardium ring with
  its holes filled (``scipy.ndimage.binary_fill_holes``) minus the ring, counted in voxels and
  summed over slices (voxel counts are comparable because every frame shares one grid). Ties go
  to the earliest frame. Computing ES reads every mask of a study (PNGs only, no DICOMs).
* **Group** is ``None``: the challenge gives no diagnosis groups (all patients had infarcts).
* **Unlabelled studies.** A study folder without any mask (e.g. a held-out validation study) is
  read with ``labelled_frames = ()`` and ``label = None``; its ES cannot be measured, so
  ``es_frame`` is ``0`` (outside 1..n_frames: ``Case.load_phase("ES")`` raises instead of
  silently loading a wrong frame). A study with only some masks is an error.

Named steps: :func:`list_study_dirs` → :func:`index_study_files` / :func:`study_problems` →
:func:`read_dicom_slice`, :func:`read_mask` → :func:`stack_slices` → :func:`load_frame`.
:mod:`dmr.datasets.checks` reuses them.

The package is split by step: ``files`` (the layout: splits, study folders, the file index and
its structural problems), ``images`` (one DICOM slice, one mask PNG), ``geometry`` (slices
stacked into a 3-D image) and ``cases`` (ES from the masks, frames, cases).
"""

from dmr.datasets.lvsc.cases import (
    UNKNOWN_FRAME,
    cavity_voxels,
    end_systolic_frame,
    load_frame,
    read_case,
    read_cases,
)
from dmr.datasets.lvsc.files import (
    CONSENSUS_FOLDER,
    FORMAT,
    SOURCE_URL,
    SPLITS,
    SliceKey,
    StudyFiles,
    index_study_files,
    list_study_dirs,
    missing_root_message,
    study_problems,
    study_root,
)
from dmr.datasets.lvsc.geometry import (
    ORIENTATION_TOLERANCE,
    SLICE_GAP_TOLERANCE,
    masks_to_label,
    spatial_order,
    stack_slices,
)
from dmr.datasets.lvsc.images import (
    BINARY_MASK_VALUES,
    TAG_ORIENTATION,
    TAG_PIXEL_SPACING,
    TAG_POSITION,
    TAG_SLICE_THICKNESS,
    DicomSlice,
    read_dicom_slice,
    read_mask,
)

__all__ = [
    "BINARY_MASK_VALUES",
    "CONSENSUS_FOLDER",
    "FORMAT",
    "ORIENTATION_TOLERANCE",
    "SLICE_GAP_TOLERANCE",
    "SOURCE_URL",
    "SPLITS",
    "TAG_ORIENTATION",
    "TAG_PIXEL_SPACING",
    "TAG_POSITION",
    "TAG_SLICE_THICKNESS",
    "UNKNOWN_FRAME",
    "DicomSlice",
    "SliceKey",
    "StudyFiles",
    "cavity_voxels",
    "end_systolic_frame",
    "index_study_files",
    "list_study_dirs",
    "load_frame",
    "masks_to_label",
    "missing_root_message",
    "read_case",
    "read_cases",
    "read_dicom_slice",
    "read_mask",
    "spatial_order",
    "stack_slices",
    "study_problems",
    "study_root",
]
