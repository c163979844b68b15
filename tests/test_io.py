"""Atomic outputs: complete or absent, and readable as the user's umask says."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmr.io import atomic_dir, atomic_path, write_text


@pytest.fixture(params=[0o022, 0o027])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_get_the_mode_of_a_plain_open(tmp_path: Path, umask: int) -> None:
    # A lab's group must be able to read the results on a shared cluster (mkstemp's 0600 would not
    # let it).
    write_text(tmp_path / "table.csv", "a\n")
    assert _mode(tmp_path / "table.csv") == 0o666 & ~umask


def test_folders_get_the_mode_of_a_plain_mkdir(tmp_path: Path, umask: int) -> None:
    with atomic_dir(tmp_path / "volumes") as tmp:
        (tmp / "case_ED.nii.gz").write_bytes(b"x")
    assert _mode(tmp_path / "volumes") == 0o777 & ~umask
    assert (tmp_path / "volumes" / "case_ED.nii.gz").read_bytes() == b"x"


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "fig5.csv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "volumes") as tmp:
        (tmp / "a.nii.gz").write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_output(tmp_path: Path) -> None:
    write_text(tmp_path / "report.html", "old")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "report.html") as tmp:
        tmp.write_text("new, half")
        raise RuntimeError("killed")
    assert (tmp_path / "report.html").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
