"""Direct reading of a NIfTI-1 file's voxel bytes, for damage SimpleITK's reader hides.

SimpleITK accepts a truncated ``.nii.gz`` (returning partly made-up pixels) and returns zeros for
NaN/inf voxels, so the checker streams the raw payload itself first. No other module of the
package is imported here.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

#: Bytes read at a time, when hashing a file and (times the voxel size) when streaming voxels.
HASH_CHUNK = 1 << 20

#: NIfTI-1 datatype codes of floating-point voxels, with their numpy types.
_NIFTI_FLOAT_TYPES = {16: "f4", 64: "f8"}


def nifti_payload_problem(path: Path) -> str | None:
    """Read a NIfTI-1 file's voxel bytes directly: truncation, gzip damage, NaN/inf values.

    Streams the (decompressed) file in chunks, so memory stays small for 4-D cines. Returns a
    problem naming the file, or ``None``. Files that are not NIfTI-1 are left to SimpleITK.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            header = stream.read(348)
            if len(header) < 348:
                return f"{path}: corrupt NIfTI (truncated header, {len(header)} bytes)"
            endian = next((e for e in "<>" if struct.unpack(f"{e}i", header[:4])[0] == 348), None)
            if endian is None:
                return None  # not NIfTI-1 (e.g. NIfTI-2): SimpleITK's reading decides
            dims = struct.unpack(f"{endian}8h", header[40:56])
            datatype, bitpix = struct.unpack(f"{endian}2h", header[70:74])
            (vox_offset,) = struct.unpack(f"{endian}f", header[108:112])
            if not 1 <= dims[0] <= 7 or min(dims[1 : dims[0] + 1]) < 1 or bitpix % 8:
                return f"{path}: corrupt NIfTI header (dim {dims}, bitpix {bitpix})"
            expected = int(np.prod(dims[1 : dims[0] + 1], dtype=np.int64)) * (bitpix // 8)
            stream.read(max(0, int(vox_offset) - 348))
            float_type = _NIFTI_FLOAT_TYPES.get(datatype)
            item = bitpix // 8
            n_read, n_bad = 0, 0
            while n_read < expected:
                chunk = stream.read(min(HASH_CHUNK * item, expected - n_read))
                if not chunk:
                    break
                n_read += len(chunk)
                if float_type is not None:
                    usable = len(chunk) - len(chunk) % item
                    values = np.frombuffer(chunk[:usable], dtype=np.dtype(endian + float_type))
                    n_bad += int(np.count_nonzero(~np.isfinite(values)))
    except (OSError, EOFError, zlib.error) as exc:
        return f"{path}: corrupt or truncated compressed file ({exc})"
    if n_read < expected:
        return f"{path}: corrupt NIfTI, truncated: {n_read} of {expected} voxel data bytes"
    if n_bad:
        return f"{path}: {n_bad} NaN/inf intensities"
    return None
