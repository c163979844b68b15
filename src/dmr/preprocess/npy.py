"""Row-wise streaming of large ``.npy`` arrays with bounded resident memory.

Memory maps look bounded but are not: every page a mapping touches counts in the process's RSS
until the mapping goes away, so one epoch over a memory-mapped LVSC slice array (several GB) ends
with the whole array resident. Plain ``pread``/``write`` calls go through the page cache instead,
which the kernel owns and reclaims, so the process holds only the rows it is working on.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.lib import format as npy_format


class NpyRowReader:
    """Read arbitrary rows (first-axis entries) of a C-ordered ``.npy`` file without mapping it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            try:
                major, _ = npy_format.read_magic(f)
                read_header = (
                    npy_format.read_array_header_1_0
                    if major == 1
                    else npy_format.read_array_header_2_0
                )
                shape, fortran_order, dtype = read_header(f)
            except ValueError as exc:
                raise ValueError(f"{self.path}: not a .npy file ({exc})") from exc
            self._offset = f.tell()
        if fortran_order:
            raise ValueError(f"{self.path}: Fortran-ordered arrays are not supported")
        if len(shape) < 1:
            raise ValueError(f"{self.path}: expected an array with rows, got shape {shape}")
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype = np.dtype(dtype)
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        expected = self._offset + self.shape[0] * self._row_bytes
        actual = self.path.stat().st_size
        if actual != expected:
            raise ValueError(f"{self.path}: truncated .npy ({actual} bytes, expected {expected})")
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """Rows in the given order as a new array of shape ``(len(rows), *shape[1:])``."""
        index = np.asarray(rows, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= self.shape[0]):
            raise IndexError(f"{self.path}: rows outside 0..{self.shape[0] - 1}")
        out = np.empty((index.size, *self.shape[1:]), dtype=self.dtype)
        if index.size == 0 or self._row_bytes == 0:
            return out
        buffer = out.reshape(index.size, -1).view(np.uint8)
        for i, row in enumerate(index):
            view = memoryview(buffer[i])
            n = os.preadv(self._fd, [view], self._offset + int(row) * self._row_bytes)
            if n != self._row_bytes:
                raise OSError(f"{self.path}: short read of row {row}")
        return out

    def close(self) -> None:
        os.close(self._fd)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
            self._fd = None


class NpyRowWriter:
    """Write a ``.npy`` file of known shape row block by row block, checking the count at close.

    Use as a context manager; the file is incomplete (and should be discarded) if the block fails.
    """

    def __init__(
        self, path: str | os.PathLike[str], shape: tuple[int, ...], dtype: np.dtype
    ) -> None:
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._written = 0
        self._file = open(self.path, "wb")
        header = {"descr": npy_format.dtype_to_descr(self.dtype), "fortran_order": False}
        npy_format.write_array_header_2_0(self._file, {**header, "shape": self.shape})

    def write(self, rows: np.ndarray) -> None:
        """Append ``rows`` (shape ``(n, *shape[1:])``), cast to the file's dtype."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:]:
            raise ValueError(f"{self.path}: row shape {rows.shape[1:]} != {self.shape[1:]}")
        if self._written + rows.shape[0] > self.shape[0]:
            raise ValueError(f"{self.path}: more than the declared {self.shape[0]} rows")
        self._file.write(rows.tobytes())
        self._written += rows.shape[0]

    def close(self) -> None:
        self._file.close()
        if self._written != self.shape[0]:
            raise ValueError(f"{self.path}: wrote {self._written} of {self.shape[0]} rows")

    def __enter__(self) -> NpyRowWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._file.close()


def concatenate_npy(chunks: list[Path], target: Path, dtype: np.dtype | None = None) -> int:
    """Concatenate ``.npy`` chunks along the first axis into ``target``, one chunk in memory at a
    time; returns the number of rows. With ``dtype``, every chunk must have exactly that dtype."""
    readers = [NpyRowReader(chunk) for chunk in chunks]
    if not readers:
        raise ValueError(f"{target}: nothing to concatenate")
    row_shape = readers[0].shape[1:]
    dtype = readers[0].dtype if dtype is None else np.dtype(dtype)
    for reader in readers:
        if reader.shape[1:] != row_shape or reader.dtype != dtype:
            raise ValueError(
                f"{reader.path}: rows {reader.shape[1:]} {reader.dtype}, expected "
                f"{row_shape} {dtype}"
            )
    total = sum(len(r) for r in readers)
    with NpyRowWriter(target, (total, *row_shape), dtype) as writer:
        for reader in readers:
            writer.write(reader.read(np.arange(len(reader))))
            reader.close()
    return total
