"""The training data path: in-memory rows give read_batch's tensors bit for bit, prefetching
yields exactly the synchronous batches, and the memory decision follows its stated rule."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_data import make_preprocessed

import dmr.train.residency
from dmr.cli.train import DEFAULT_MEMORY_FRACTION as CLI_DEFAULT_FRACTION
from dmr.errors import DmrError
from dmr.train.batches import BatchFeeder, SliceArrays, build_feeders, finish, prefetch
from dmr.train.data import build_datasets, iterate_batches
from dmr.train.residency import (
    DEFAULT_MEMORY_FRACTION,
    GIB,
    available_host_memory,
    bytes_per_slice,
    choose_residency,
)

CPU = torch.device("cpu")
CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_preprocessed(tmp_path_factory.mktemp("batches"), copies=2)


def datasets(folders, threshold: float):
    train_ds, val_ds, _ = build_datasets(
        folders["preprocessed"], folders["augmented"], folders["folds"], 0, threshold
    )
    return train_ds, val_ds


def assert_same(a, b) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            assert x is None and y is None
            continue
        assert x.dtype == y.dtype and x.shape == y.shape
        assert torch.equal(x, y)


# 0.3 is not a float16 number: truncation must happen in float32, as read_batch does it.
@pytest.mark.parametrize("threshold", [5.0, 0.3])
def test_in_memory_rows_gather_exactly_what_read_batch_reads(folders, threshold):
    train_ds, _ = datasets(folders, threshold)
    arrays = SliceArrays(train_ds, distances=True, device=CPU)
    # Truncated once in float16 where -T is a float16 number, else per batch in float32.
    assert arrays.truncated == (threshold == 5.0)
    indices = np.array([40, 3, 47, 0, 24, 3])  # both sources, unsorted, one repeated
    expected = train_ds.read_batch(indices)
    threads = torch.get_num_threads()
    assert_same(arrays.gather(indices), expected)
    assert torch.get_num_threads() == threads  # the one-thread gather restores the setting
    # The GPU path (gather in stored dtypes, convert after the copy) with the same arithmetic.
    raw = arrays.gather_raw(torch.from_numpy(indices))
    assert raw[1].dtype == torch.uint8 and raw[2].dtype == torch.float16
    assert_same(finish(*raw, threshold), expected)
    assert (expected[2] == -threshold).any()  # the -inf of absent classes became -T


def test_base_models_neither_read_nor_hold_distance_maps(folders):
    train_ds, _ = datasets(folders, 5.0)
    indices = np.array([5, 1, 40])
    images, labels, dists = train_ds.read_batch(indices, distances=False)
    assert dists is None
    arrays = SliceArrays(train_ds, distances=False, device=CPU)
    assert arrays.dists is None
    assert_same(arrays.gather(indices), (images, labels, None))
    pixels = 32 * 32
    assert bytes_per_slice(train_ds, distances=False) == pixels * (4 + 1)
    assert bytes_per_slice(train_ds, distances=True) == pixels * (4 + 1 + 3 * 2)


@pytest.mark.parametrize("where", ["host", "disk"])
def test_feeders_yield_the_batches_of_read_batch_in_the_seeded_order(folders, where):
    train_ds, _ = datasets(folders, 5.0)
    feeder = BatchFeeder(train_ds, CPU, where, distances=True)
    for epoch in (0, 1):
        got = list(feeder.batches(7, shuffle=True, seed=3, epoch=epoch))
        expected = list(iterate_batches(train_ds, 7, shuffle=True, seed=3, epoch=epoch))
        assert len(got) == len(expected) == -(-len(train_ds) // 7)
        for a, b in zip(got, expected, strict=True):
            assert_same(a, b)


def test_prefetch_yields_the_synchronous_results_in_order():
    produced_by = set()

    def square(x: int) -> int:
        produced_by.add(threading.current_thread().name)
        time.sleep(0.001 * (x % 3))
        return x * x

    assert list(prefetch(square, range(50), depth=3)) == [x * x for x in range(50)]
    assert produced_by == {"dmr-prefetch"}  # the work ran in the background thread
    assert list(prefetch(square, [])) == []


def test_prefetch_raises_the_producers_error_and_stops_when_closed_early():
    def fails_at_three(x: int) -> int:
        if x == 3:
            raise ValueError("bad batch 3")
        return x

    got = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for value in prefetch(fails_at_three, range(10)):
            got.append(value)
    assert got == [0, 1, 2]

    before = threading.active_count()
    stream = prefetch(lambda x: x, range(10**9), depth=2)
    assert next(stream) == 0
    stream.close()  # e.g. the training step raised: the thread must not run on
    assert threading.active_count() == before


def test_memory_decision_follows_the_stated_fraction():
    assert CLI_DEFAULT_FRACTION == DEFAULT_MEMORY_FRACTION == 0.5  # dmr train's default
    ram = (10 * GIB, "MemAvailable")
    fits, too_big = int(4.9 * GIB), int(5.1 * GIB)
    decide = choose_residency
    # CPU: RAM when the arrays fit in half the available memory, else disk; true/false force.
    assert decide(fits, CPU, "auto", 0.5, host=ram).where == "host"
    assert decide(too_big, CPU, "auto", 0.5, host=ram).where == "disk"
    assert decide(too_big, CPU, "auto", 0.6, host=ram).where == "host"
    assert decide(too_big, CPU, True, 0.5, host=ram).where == "host"
    assert decide(fits, CPU, False, 0.5, host=ram).where == "disk"
    # CUDA: GPU memory when they fit in half the free device memory, else RAM, else disk.
    gpu = {"host": ram, "device_free": 20 * GIB}
    assert decide(9 * GIB, CUDA, "auto", 0.5, **gpu).where == "device"
    assert decide(fits, CUDA, "auto", 0.5, host=ram, device_free=8 * GIB).where == "host"
    assert decide(11 * GIB, CUDA, "auto", 0.5, **gpu).where == "disk"
    assert decide(fits, CUDA, "false", 0.5, **gpu).where == "host"
    assert decide(30 * GIB, CUDA, "true", 0.5, **gpu).where == "device"
    decision = decide(too_big, CPU, "auto", 0.5, host=ram)
    assert "5.10 GiB" in decision.describe() and "0.5 x 10.0 GiB RAM (MemAvailable)" in (
        decision.describe()
    )
    with pytest.raises(DmrError, match="data_on_device must be one of auto, true, false"):
        decide(fits, CPU, "sometimes", 0.5, host=ram)
    with pytest.raises(DmrError, match="fraction"):
        decide(fits, CPU, "auto", 0.0, host=ram)


def test_available_memory_is_measured_and_logged_with_the_choice(folders, monkeypatch, caplog):
    available, source = available_host_memory()
    assert available > 0 and source
    train_ds, val_ds = datasets(folders, 5.0)
    needed = (len(train_ds) + len(val_ds)) * bytes_per_slice(train_ds, distances=True)
    monkeypatch.setattr(
        dmr.train.residency, "available_host_memory", lambda: (needed, "MemAvailable")
    )
    with caplog.at_level("INFO", logger="dmr.train.batches"):
        (train_feeder, val_feeder), residency = build_feeders(
            [train_ds, val_ds], CPU, distances=True, fraction=0.5
        )
    # Half of "available" is less than needed: both sets stream from disk, and the log says why.
    assert residency.where == train_feeder.where == val_feeder.where == "disk"
    assert train_feeder.arrays is None
    assert "on disk" in caplog.text and "MemAvailable" in caplog.text
