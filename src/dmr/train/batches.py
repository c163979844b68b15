"""How a fold's slices reach the network: held in memory once, or streamed from disk, prefetched.

Why: reading every batch from the slice files (``SliceDataset.read_batch``: a ``pread`` per row,
then conversions) delivered about 1,000 images/s at 256 px on one core, less than one GPU trains
on. So ``dmr train`` holds a fold's training and validation rows in memory once, in the dtypes
they are stored in (images float32, labels uint8, distance maps float16, the latter only for
DMR models), and gathers each batch by index. The conversions (labels to int64, distance maps
to float32 truncated at ``-T``, paper Eq. 2) happen per batch, so a dataset costs
4 + 1 + 2 (C-1) bytes per pixel instead of 4 + 8 + 4 (C-1). Where the rows live
(:func:`dmr.train.residency.choose_residency`, ``training.data_on_device``):

- ``device``: GPU memory (CUDA only); gathering and conversion run on the GPU;
- ``host``: RAM. On a CPU each slice of a batch is gathered and converted in one pass. With
  CUDA a background thread gathers the next batch into pinned memory and copies it on a side
  stream while the GPU trains on the current one;
- ``disk``: the arrays stay on disk (they exceed the memory budget; the full LVSC with its
  augmented copies is ~11 GB) and a background thread reads the next batch with ``read_batch``
  while the current one trains.

Every mode yields the tensors ``read_batch`` gives, bit for bit, in the order of
:func:`dmr.train.data.batch_order` (tests/test_batches.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import numpy as np
import torch

from dmr.train.data import SliceDataset, batch_order
from dmr.train.residency import (
    DEFAULT_MEMORY_FRACTION,
    RESIDENCIES,
    Residency,
    bytes_per_slice,
    choose_residency,
)

log = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]
Item = TypeVar("Item")
Result = TypeVar("Result")

#: Rows copied per read while loading (bounds the temporary host memory of a load).
LOAD_CHUNK_ROWS = 64


# --------------------------------------------------------------------------- in-memory rows
def finish(
    images: torch.Tensor, labels: torch.Tensor, dists: torch.Tensor | None, threshold: float
) -> Batch:
    """Stored dtypes -> what the network and loss take: (B,1,S,S) float32, int64 labels,
    float32 distances truncated at ``-threshold`` (paper Eq. 2), on the tensors' device."""
    truncated = dists.float().clamp_min_(-threshold) if dists is not None else None
    return images.unsqueeze(1).float(), labels.long(), truncated


def exact_in(dtype: torch.dtype, value: float) -> bool:
    """Whether ``value`` is a number of ``dtype`` (then truncating in it is exact)."""
    return float(torch.tensor(value, dtype=dtype)) == value


class SliceArrays:
    """The rows of one dataset held in memory (RAM or GPU) in their stored dtypes, by index.

    Distance maps are truncated at ``-T`` once, when loaded, where ``-T`` is a float16 number
    (T = 5, 60, 250 are): the maximum of two float16 numbers converted to float32 is then the
    float32 maximum that ``read_batch`` computes, and each batch needs only the conversion.
    """

    def __init__(self, dataset: SliceDataset, *, distances: bool, device: torch.device) -> None:
        self.threshold = dataset.threshold
        first = dataset.sources[0]
        n, size = len(dataset), first.images.shape[1:]
        labels_dtype = torch.from_numpy(np.empty(0, first.labels.dtype)).dtype
        self.images = torch.empty((n, *size), dtype=torch.float32, device=device)
        self.labels = torch.empty((n, *size), dtype=labels_dtype, device=device)
        self.dists: torch.Tensor | None = None
        if distances:
            dists_dtype = torch.from_numpy(np.empty(0, first.distmaps.dtype)).dtype
            shape = (n, *first.distmaps.shape[1:])
            self.dists = torch.empty(shape, dtype=dists_dtype, device=device)
        for start in range(0, n, LOAD_CHUNK_ROWS):
            rows = np.arange(start, min(n, start + LOAD_CHUNK_ROWS))
            images, labels, dists = dataset.read_raw(rows, distances=distances)
            self.images[rows[0] : rows[-1] + 1].copy_(torch.from_numpy(images))
            self.labels[rows[0] : rows[-1] + 1].copy_(torch.from_numpy(labels))
            if self.dists is not None:
                self.dists[rows[0] : rows[-1] + 1].copy_(torch.from_numpy(dists))
        self.truncated = self.dists is not None and exact_in(self.dists.dtype, -self.threshold)
        if self.truncated:
            self.dists.clamp_min_(-self.threshold)

    def gather(self, indices: np.ndarray) -> Batch:
        """A CPU batch, gathered and converted slice by slice (one pass, the slice in cache).

        Runs on one intra-op thread whatever ``training.threads`` says: each copy is small
        and memory-bound, and on a busy machine torch's thread team waiting for a descheduled
        member made a two-thread gather 5-20x slower than one thread (measured at 256 px on
        the shared 2-core development VM), while one thread delivers several thousand 256 px
        images/s, far more than CPU training consumes.
        """
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._gather(indices)
        finally:
            torch.set_num_threads(threads)

    def _gather(self, indices: np.ndarray) -> Batch:
        n = len(indices)
        size = self.images.shape[1:]
        images = torch.empty((n, 1, *size), dtype=torch.float32)
        labels = torch.empty((n, *size), dtype=torch.int64)
        dists = None
        if self.dists is not None:
            dists = torch.empty((n, *self.dists.shape[1:]), dtype=torch.float32)
        index = np.asarray(indices, dtype=np.int64)
        torch.index_select(self.images, 0, torch.from_numpy(index), out=images[:, 0])
        for k, i in enumerate(index.tolist()):
            labels[k].copy_(self.labels[i])
            if dists is not None:
                dists[k].copy_(self.dists[i])
                if not self.truncated:
                    dists[k].clamp_min_(-self.threshold)
        return images, labels, dists

    def gather_raw(
        self, index: torch.Tensor, *, pin: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Rows ``index`` in the stored dtypes (on the arrays' device; pinned RAM if ``pin``)."""

        def take(array: torch.Tensor) -> torch.Tensor:
            shape = (len(index), *array.shape[1:])
            out = torch.empty(shape, dtype=array.dtype, device=array.device, pin_memory=pin)
            return torch.index_select(array, 0, index, out=out)

        return (
            take(self.images),
            take(self.labels),
            None if self.dists is None else take(self.dists),
        )


# --------------------------------------------------------------------------- prefetching
_END = object()


def prefetch(
    produce: Callable[[Item], Result], items: Iterable[Item], depth: int = 2
) -> Iterator[Result]:
    """Yield ``produce(item)`` for each item in order, computing up to ``depth`` results ahead
    in a background thread. An exception in ``produce`` is raised here; closing the generator
    early stops the thread."""
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                results.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((True, produce(item))):
                    return
            put((True, _END))
        except BaseException as exc:  # handed to the consumer and raised there
            put((False, exc))

    thread = threading.Thread(target=work, name="dmr-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, value = results.get()
            if not ok:
                raise value
            if value is _END:
                return
            yield value
    finally:
        stop.set()
        thread.join()


class _CudaStager:
    """Copies host batches to the GPU on a side stream (in the prefetch thread) and hands them
    over to the training stream (in the main thread)."""

    def __init__(self, device: torch.device, threshold: float) -> None:
        self.device = device
        self.threshold = threshold
        self.stream = torch.cuda.Stream(device)

    def stage(self, batch: tuple, *, convert: bool) -> tuple[Batch, torch.cuda.Event]:
        with torch.cuda.stream(self.stream):
            moved = [t.to(self.device, non_blocking=True) if t is not None else None for t in batch]
            out = finish(*moved, self.threshold) if convert else tuple(moved)
            event = torch.cuda.Event()
            event.record(self.stream)
        return out, event

    def receive(self, staged: tuple[Batch, torch.cuda.Event]) -> Batch:
        out, event = staged
        current = torch.cuda.current_stream(self.device)
        current.wait_event(event)
        for tensor in out:
            if tensor is not None:
                tensor.record_stream(current)
        return out


# --------------------------------------------------------------------------- batches of an epoch
class BatchFeeder:
    """The batches of one dataset, ready on the training device, from where its rows live."""

    def __init__(
        self, dataset: SliceDataset, device: torch.device, where: str, *, distances: bool
    ) -> None:
        if where not in RESIDENCIES:
            raise ValueError(f"residency must be one of {RESIDENCIES}, got {where!r}")
        if where == "device" and device.type != "cuda":
            where = "host"  # a CPU's device memory is its RAM
        self.dataset = dataset
        self.device = device
        self.where = where
        self.distances = distances
        self.arrays = None
        if where != "disk":
            on = device if where == "device" else torch.device("cpu")
            self.arrays = SliceArrays(dataset, distances=distances, device=on)
        self.stager = None
        if device.type == "cuda" and where != "device":
            self.stager = _CudaStager(device, dataset.threshold)

    def __len__(self) -> int:
        return len(self.dataset)

    def _host_to_cuda(self, indices: np.ndarray) -> tuple[Batch, torch.cuda.Event]:
        raw = self.arrays.gather_raw(torch.from_numpy(np.asarray(indices, np.int64)), pin=True)
        return self.stager.stage(raw, convert=True)

    def _disk(self, indices: np.ndarray) -> Batch:
        return self.dataset.read_batch(indices, distances=self.distances)

    def _disk_to_cuda(self, indices: np.ndarray) -> tuple[Batch, torch.cuda.Event]:
        return self.stager.stage(self._disk(indices), convert=False)

    def batches(
        self, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0
    ) -> Iterator[Batch]:
        """The batches of :func:`dmr.train.data.batch_order` (same seed, same batches)."""
        order = batch_order(len(self), batch_size, shuffle=shuffle, seed=seed, epoch=epoch)
        if self.where == "device":
            # One copy of the epoch's order to the GPU: a copy per batch would wait for the
            # queued training steps each time, and the CPU could no longer run ahead.
            flat = torch.as_tensor(np.concatenate(order).astype(np.int64), device=self.device)
            for index in torch.split(flat, [len(b) for b in order]):
                yield finish(*self.arrays.gather_raw(index), self.dataset.threshold)
        elif self.where == "host" and self.stager is None:
            for indices in order:
                yield self.arrays.gather(indices)
        elif self.stager is None:
            yield from prefetch(self._disk, order)
        else:
            produce = self._host_to_cuda if self.where == "host" else self._disk_to_cuda
            for staged in prefetch(produce, order):
                yield self.stager.receive(staged)


def build_feeders(
    datasets: list[SliceDataset],
    device: torch.device,
    *,
    distances: bool,
    setting: str | bool = "auto",
    fraction: float = DEFAULT_MEMORY_FRACTION,
) -> tuple[list[BatchFeeder], Residency]:
    """One feeder per dataset (training, validation), all where their rows fit together."""
    needed = sum(len(ds) * bytes_per_slice(ds, distances=distances) for ds in datasets)
    residency = choose_residency(needed, device, setting, fraction)
    log.info("data path: %s", residency.describe())
    feeders = [BatchFeeder(ds, device, residency.where, distances=distances) for ds in datasets]
    return feeders, residency
