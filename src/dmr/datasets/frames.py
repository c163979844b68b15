"""Which frames of a case a split is predicted and scored on, and their file names.

Shared by prediction (:mod:`dmr.inference.predict_split`) and scoring
(:mod:`dmr.evaluation.evaluate_split`); kept free of torch (and of the readers, imported for type
checking only) so that scoring jobs and the CLI's argument parser do not pay for importing them.

Modes (``frames``):

* ``ed_es``: the ED and ES frame of every case, files ``{case}_{phase}.nii.gz``;
* ``labelled``: every frame that has a reference (the LVSC validation set is scored on all
  frames of the consensus images), files ``{case}_frame{NN}.nii.gz``;
* ``all``: every frame (e.g. to submit a split without references to its challenge), same names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmr.errors import DatasetError

if TYPE_CHECKING:
    from dmr.datasets import Case

FRAME_SETS: tuple[str, ...] = ("ed_es", "labelled", "all")


def frame_file(case_id: str, frame: int) -> str:
    """File name of one frame's prediction in ``labelled`` mode."""
    return f"{case_id}_frame{frame:02d}.nii.gz"


def frames_to_predict(case: Case, frames: str) -> list[tuple[str, int]]:
    """(file name, frame number) of every volume of ``case`` predicted in mode ``frames``."""
    if frames == "ed_es":
        if not 1 <= case.es_frame <= case.n_frames:
            raise DatasetError(
                f"{case.path}: ES frame unknown (no masks to measure it); predict its labelled "
                "frames instead (frames: labelled)"
            )
        return [(f"{case.case_id}_{phase}.nii.gz", case.frame_of(phase)) for phase in ("ED", "ES")]
    if frames == "labelled":
        return [(frame_file(case.case_id, f), f) for f in case.labelled_frames]
    if frames == "all":
        return [(frame_file(case.case_id, f), f) for f in range(1, case.n_frames + 1)]
    raise ValueError(f"frames must be one of {FRAME_SETS}, got {frames!r}")
