"""One predictor for every prediction: cross-validation, held-out, users' own images (II.F).

A volume is preprocessed exactly as the training slices were (the bundle's ``preprocess``
params), segmented slice by slice, mapped from class indices to the GLOBAL label values of the
bundle (an LVSC model's class 1 is label 2), combined across ensemble members by a per-pixel
majority vote on the network grid (tie: lowest label wins, see ``dmr.inference.postprocess``),
resampled back onto the original grid and cleaned to the largest 3-D connected component per
structure.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from torch import nn

from dmr.errors import InputError
from dmr.inference.bundle import LoadedModel, inference_precision, load_models, model_precision
from dmr.inference.postprocess import largest_component_per_label, majority_vote
from dmr.io import write_image
from dmr.models import network_input
from dmr.preprocess import SliceGeometry, preprocess_volume, restore_labels
from dmr.train import resolve_device
from dmr.train.precision import FP32, TRAINED, Precision

log = logging.getLogger(__name__)

#: Names ``dmr predict`` may write its label map to: 3-D formats that keep the image's geometry
#: (origin, spacing, direction) in ONE file. 2-D formats (.png, .jpg) would silently keep slice 0;
#: a detached header (.mhd, .nhdr, .hdr) would point at the temporary data file of dmr.io's atomic
#: write; an unknown suffix fails in SimpleITK only after the whole inference.
LABEL_MAP_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".nrrd", ".mha")


# --------------------------------------------------------------------------- inference
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def forward_volume(
    network: nn.Module, slices: np.ndarray, batch_size: int = 16, precision: Precision = FP32
) -> torch.Tensor:
    """float32 logits (Z, C, S, S) of the network on the (Z, S, S) slices, batch by batch, in
    ``precision`` (bf16/fp16 autocast, as in training, or float32)."""
    device = next(network.parameters()).device
    autocast = precision.autocast(device)
    outputs = []
    for start in range(0, len(slices), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(slices[start : start + batch_size]))
        batch = network_input(batch[:, None], device)
        with autocast if autocast is not None else nullcontext():
            logits = network(batch)
        if isinstance(logits, tuple):  # the regularized network also returns distance maps
            logits = logits[0]
        outputs.append(logits.float())
    return torch.cat(outputs)


def time_forward(
    network: nn.Module, slices: np.ndarray, batch_size: int = 16, precision: Precision = FP32
) -> float:
    """Milliseconds of :func:`forward_volume` (CUDA synchronised before reading the clock)."""
    device = next(network.parameters()).device
    _sync(device)
    started = time.perf_counter()
    forward_volume(network, slices, batch_size, precision)
    _sync(device)
    return 1000.0 * (time.perf_counter() - started)


def segment_slices(
    model: LoadedModel, slices: np.ndarray, batch_size: int = 16, precision: Precision = FP32
) -> np.ndarray:
    """uint8 (Z, S, S) GLOBAL label values predicted by one model."""
    logits = forward_volume(model.network, slices, batch_size, precision)
    classes = logits.argmax(dim=1).cpu().numpy()
    return np.asarray(model.label_values, dtype=np.uint8)[classes]


class Predictor:
    """Segments 3-D short-axis volumes with one model or a majority-voting ensemble."""

    def __init__(
        self,
        models: list[LoadedModel],
        batch_size: int = 16,
        precision: Precision | None = None,
    ) -> None:
        """``precision`` None: each model in the precision it trained in (``amp trained``)."""
        if not models:
            raise ValueError("Predictor needs at least one model")
        self.models = models
        self.batch_size = batch_size
        self.precisions = [precision or model_precision(m) for m in models]
        self.params = models[0].preprocess

    @classmethod
    def from_paths(cls, paths: list[Path], device: str = "auto", amp: str = TRAINED) -> Predictor:
        """Load the models on ``device``; ``amp``: ``trained`` (each model's own precision) or
        auto, true, false as in ``dmr.train.precision``."""
        torch_device = resolve_device(device)
        precision = inference_precision(torch_device, amp)
        predictor = cls(load_models(paths, torch_device), precision=precision)
        log.info(
            "inference on %s, precision %s",
            torch_device,
            ", ".join(sorted({f"{p.name} ({p.reason})" for p in predictor.precisions})),
        )
        return predictor

    def preprocess(self, image: sitk.Image) -> tuple[np.ndarray, SliceGeometry]:
        """Network input (Z, S, S) float32 and the geometry to restore the result."""
        return preprocess_volume(image, self.params)

    def segment(self, slices: np.ndarray) -> np.ndarray:
        """Network-grid labels (Z, S, S): each model's prediction, then the majority vote."""
        return majority_vote(self.votes(slices))

    def votes(self, slices: np.ndarray) -> list[np.ndarray]:
        """Each model's own network-grid labels (Z, S, S), in the order of ``models``."""
        return [
            segment_slices(model, slices, self.batch_size, precision)
            for model, precision in zip(self.models, self.precisions, strict=True)
        ]

    @staticmethod
    def restore(labels: np.ndarray, geometry: SliceGeometry) -> sitk.Image:
        """Back to the original grid, then the largest 3-D component of each structure."""
        restored = restore_labels(labels, geometry)
        cleaned = sitk.GetImageFromArray(
            largest_component_per_label(sitk.GetArrayFromImage(restored))
        )
        cleaned.CopyInformation(restored)
        return cleaned

    def predict_volume(self, image: sitk.Image) -> sitk.Image:
        """uint8 label image (global label values) in the geometry of ``image``."""
        slices, geometry = self.preprocess(image)
        return self.restore(self.segment(slices), geometry)

    def predict_volume_each(self, image: sitk.Image) -> tuple[sitk.Image, list[sitk.Image]]:
        """The ensemble's label image and each model's own, from one pass of every model: the
        single models are what tells whether a difference replicates across trainings."""
        slices, geometry = self.preprocess(image)
        votes = self.votes(slices)
        own = [self.restore(labels, geometry) for labels in votes]
        return self.restore(majority_vote(votes), geometry), own


# --------------------------------------------------------------------------- entry points
def read_volume(path: Path) -> sitk.Image:
    """Read a 3-D scalar image, or raise an InputError that says what is wrong with it."""
    if not path.is_file():
        raise InputError(f"{path}: input image not found")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot read as an image ({str(exc).strip()[:200]})") from exc
    dimension = image.GetDimension()
    if dimension == 4:
        raise InputError(
            f"{path}: is 4-D {image.GetSize()} (a cine series?); give one frame as a 3-D "
            "short-axis stack"
        )
    if dimension != 3:
        raise InputError(
            f"{path}: is {dimension}-D {image.GetSize()}; expected a 3-D short-axis stack"
        )
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{path}: has {image.GetNumberOfComponentsPerPixel()} components per pixel; "
            "expected a scalar (grey-level) image"
        )
    return image


def _predict_or_explain(predictor: Predictor, image: sitk.Image, path: Path) -> sitk.Image:
    try:
        return predictor.predict_volume(image)
    except ValueError as exc:  # e.g. constant intensities that cannot be normalised
        raise InputError(f"{path}: {exc}") from exc


def check_label_map_path(path: Path) -> None:
    """Refuse an output name the label map cannot be written to, before any model is loaded.

    Raises:
        InputError: naming ``path`` and the accepted suffixes (:data:`LABEL_MAP_SUFFIXES`).
    """
    if not path.name.endswith(LABEL_MAP_SUFFIXES) or path.name in LABEL_MAP_SUFFIXES:
        raise InputError(
            f"{path}: cannot write a 3-D label map under this name; give a file name ending in "
            + ", ".join(LABEL_MAP_SUFFIXES)
        )
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the label map's file name")


def predict_file(
    models: list[Path], input: Path, output: Path, device: str = "auto", amp: str = TRAINED
) -> None:
    """``dmr predict``: segment one 3-D NIfTI with one model or an ensemble; write atomically."""
    input, output = Path(input), Path(output)
    check_label_map_path(output)
    predictor = Predictor.from_paths(list(models), device, amp)
    image = read_volume(input)
    labels = _predict_or_explain(predictor, image, input)
    write_image(output, labels)
    log.info("wrote %s (%d model(s))", output, len(predictor.models))
