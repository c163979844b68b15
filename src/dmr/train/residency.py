"""Where a training job holds its slice arrays: GPU memory, RAM or disk (``data_on_device``).

The rule (:func:`choose_residency`) compares the arrays' size in their stored dtypes with a
stated share (``data_memory_fraction``, default 0.5) of the memory a new allocation can get:
free GPU memory (``torch.cuda.mem_get_info``) on CUDA, and for RAM ``MemAvailable`` of
/proc/meminfo lowered to the headroom under the process's cgroup memory limit (a SLURM job's
``--mem``, a container's limit) when there is one. Standard library only: no psutil.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from dmr.errors import DmrError
from dmr.switch import parse_switch
from dmr.train.data import SliceDataset

RESIDENCIES: tuple[str, ...] = ("device", "host", "disk")
#: Share of the available memory (RAM, or free GPU memory) the slice arrays may take.
DEFAULT_MEMORY_FRACTION = 0.5
GIB = 1 << 30


# --------------------------------------------------------------------------- how much memory
def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _inactive_file_bytes(stat: Path, key: str) -> int:
    """Page cache the cgroup counts as used although the kernel can reclaim it."""
    try:
        for line in stat.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _cgroup_headroom() -> int | None:
    """Bytes left under this process's cgroup memory limit (SLURM, containers), None if none."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            candidates = [Path("/sys/fs/cgroup") / path.lstrip("/"), Path("/sys/fs/cgroup")]
            files = ("memory.max", "memory.current", "memory.stat", "inactive_file")
        elif "memory" in controllers.split(","):  # cgroup v1
            root = Path("/sys/fs/cgroup/memory")
            candidates = [root / path.lstrip("/"), root]
            files = (
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
                "memory.stat",
                "total_inactive_file",
            )
        else:
            continue
        for folder in candidates:
            limit, usage = _read_int(folder / files[0]), _read_int(folder / files[1])
            if limit is None or usage is None:
                continue
            if limit >= 1 << 60:  # "max" or the v1 "unlimited" sentinel
                return None
            used = usage - _inactive_file_bytes(folder / files[2], files[3])
            return max(0, limit - used)
    return None


def available_host_memory() -> tuple[int, str]:
    """Bytes of RAM a new allocation can get without swapping, and where the figure comes from.

    ``MemAvailable`` of /proc/meminfo (Linux), lowered to the headroom under the process's cgroup
    memory limit when there is one (a SLURM job's ``--mem``); elsewhere the physical memory.
    """
    available, source = None, ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available, source = int(line.split()[1]) * 1024, "MemAvailable"
                break
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        source = "physical memory"
    headroom = _cgroup_headroom()
    if headroom is not None and headroom < available:
        return headroom, "cgroup memory limit headroom"
    return available, source


def available_device_memory(device: torch.device) -> int:
    """Free bytes on a CUDA device (what other processes and this one have not taken)."""
    free, _ = torch.cuda.mem_get_info(device)
    return int(free)


# --------------------------------------------------------------------------- where the rows live
def bytes_per_slice(dataset: SliceDataset, *, distances: bool) -> int:
    """Memory one slice takes in the stored dtypes (images, labels, distance maps if used)."""
    first = dataset.sources[0]
    pixels = math.prod(first.images.shape[1:])
    per_pixel = 4 + first.labels.dtype.itemsize  # images are held as float32
    if distances:
        per_pixel += first.distmaps.shape[1] * first.distmaps.dtype.itemsize
    return pixels * per_pixel


@dataclass(frozen=True)
class Residency:
    """Where the slice arrays live (``device``, ``host`` or ``disk``) and why."""

    where: str
    needed: int
    reason: str

    def describe(self) -> str:
        what = {
            "device": "in GPU memory, batches gathered on the GPU",
            "host": "in RAM, batches gathered by index",
            "disk": "on disk, each batch read one batch ahead in a background thread",
        }[self.where]
        return f"slice arrays {what} ({self.needed / GIB:.2f} GiB; {self.reason})"


def choose_residency(
    needed: int,
    device: torch.device,
    setting: str | bool = "auto",
    fraction: float = DEFAULT_MEMORY_FRACTION,
    *,
    host: tuple[int, str] | None = None,
    device_free: int | None = None,
) -> Residency:
    """Where ``needed`` bytes of slice arrays go on ``device`` under ``data_on_device``.

    ``auto``: GPU memory when they fit in ``fraction`` of the device's free memory (CUDA), else
    RAM when they fit in ``fraction`` of the available RAM (:func:`available_host_memory`),
    else disk. ``true``: the device's own memory (GPU memory; RAM on a CPU), unchecked.
    ``false``: never on the device: RAM if it fits (CUDA) or disk (CPU: streaming as before).
    ``host`` / ``device_free`` override the measured figures (tests).
    """
    setting = parse_switch(setting, "data_on_device")
    if not 0 < fraction <= 1:
        raise DmrError(f"data memory fraction must be in (0, 1], got {fraction}")
    cuda = device.type == "cuda"
    if setting == "true":
        return Residency("device" if cuda else "host", needed, "data_on_device true")
    if cuda and setting == "auto":
        free = available_device_memory(device) if device_free is None else device_free
        budget = fraction * free
        if needed <= budget:
            return Residency(
                "device", needed, f"<= {fraction:g} x {free / GIB:.1f} GiB free on {device}"
            )
    if setting == "false" and not cuda:
        return Residency("disk", needed, "data_on_device false")
    available, source = available_host_memory() if host is None else host
    budget = fraction * available
    comparison = f"{fraction:g} x {available / GIB:.1f} GiB RAM ({source})"
    if needed <= budget:
        return Residency("host", needed, f"<= {comparison}")
    return Residency("disk", needed, f"> {comparison}")
