"""Streaming .npy rows: what preprocessing, augmentation and training rely on for bounded memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dmr.preprocess.npy import NpyRowReader, NpyRowWriter, concatenate_npy


def test_written_file_is_a_standard_npy_and_rows_read_back(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=(7, 3, 4)).astype(np.float32)
    with NpyRowWriter(tmp_path / "a.npy", data.shape, np.float32) as writer:
        writer.write(data[:3])
        writer.write(data[3:])
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), data)
    reader = NpyRowReader(tmp_path / "a.npy")
    np.testing.assert_array_equal(reader.read([5, 0, 5]), data[[5, 0, 5]])
    assert reader.read([]).shape == (0, 3, 4)


def test_reader_accepts_numpy_saved_files_and_rejects_truncated_ones(tmp_path: Path) -> None:
    data = np.arange(24, dtype=np.uint8).reshape(6, 4)
    np.save(tmp_path / "b.npy", data)
    np.testing.assert_array_equal(NpyRowReader(tmp_path / "b.npy").read([2, 1]), data[[2, 1]])
    raw = (tmp_path / "b.npy").read_bytes()
    (tmp_path / "c.npy").write_bytes(raw[:-3])
    with pytest.raises(ValueError, match=r"c\.npy: truncated"):
        NpyRowReader(tmp_path / "c.npy")
    with pytest.raises(IndexError, match=r"outside 0\.\.5"):
        NpyRowReader(tmp_path / "b.npy").read([6])


def test_writer_refuses_a_wrong_row_count(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="wrote 1 of 2 rows"):
        with NpyRowWriter(tmp_path / "d.npy", (2, 3), np.float32) as writer:
            writer.write(np.zeros((1, 3)))
    with NpyRowWriter(tmp_path / "e.npy", (1, 3), np.float32) as writer:
        with pytest.raises(ValueError, match="more than the declared 1 rows"):
            writer.write(np.zeros((2, 3)))
        writer.write(np.zeros((1, 3)))


def test_concatenate_streams_chunks_in_order(tmp_path: Path) -> None:
    chunks = []
    for i, n in enumerate((2, 0, 3)):
        np.save(tmp_path / f"c{i}.npy", np.full((n, 2), i, dtype=np.int16))
        chunks.append(tmp_path / f"c{i}.npy")
    assert concatenate_npy(chunks, tmp_path / "all.npy") == 5
    np.testing.assert_array_equal(np.load(tmp_path / "all.npy")[:, 0], [0, 0, 2, 2, 2])


def test_concatenate_refuses_a_chunk_of_another_dtype(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"a\.npy: rows \(3,\) float32, expected \(3,\) uint8"):
        concatenate_npy([tmp_path / "a.npy"], tmp_path / "out.npy", np.uint8)
