"""dmr.train.allocator: with reuse on, a freed tensor's memory serves the next allocation without
the kernel mapping (and zeroing) fresh pages -- the mechanism behind the CPU training speed-up."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dmr.train.allocator import reuse_freed_memory

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="needs glibc")

# Allocate and free a 64 MiB tensor (like one step's activation), then count the page faults of
# the next, smaller allocation: every fresh page costs one minor fault.
PROBE = textwrap.dedent(
    """
    import resource, sys
    import torch
    from dmr.train.allocator import reuse_freed_memory

    applied = reuse_freed_memory() if sys.argv[1] == "reuse" else False
    torch.ones(64 << 20, dtype=torch.uint8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(48 << 20, dtype=torch.uint8)
    print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)
FRESH_PAGES = (48 << 20) // 4096


def _python(code: str, mode: str, tunables: str | None = None) -> str:
    """Run ``code`` in a fresh interpreter: the malloc setting is process-wide."""
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    if tunables is not None:
        env["GLIBC_TUNABLES"] = tunables
    run = subprocess.run(
        [sys.executable, "-c", code, mode], capture_output=True, text=True, env=env, check=True
    )
    return run.stdout


def _probe(mode: str, tunables: str | None = None) -> tuple[bool, int]:
    applied, faults = _python(PROBE, mode, tunables).split()
    return applied == "True", int(faults)


# Three seeded DMR-U-Net training steps; prints a digest of every parameter and BN buffer.
TRAIN_STEPS = textwrap.dedent(
    """
    import hashlib, sys
    import torch
    from dmr.train.allocator import reuse_freed_memory
    from dmr.train.losses import build_loss
    from dmr.models import build_model

    if sys.argv[1] == "reuse":
        assert reuse_freed_memory()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model("unet", True, num_classes=4, width=4).to(memory_format=torch.channels_last)
    loss_fn = build_loss("dmr")
    optimizer = torch.optim.RMSprop([*model.parameters(), *loss_fn.parameters()], lr=5e-4)
    for _ in range(3):
        image = torch.randn(8, 1, 96, 96).contiguous(memory_format=torch.channels_last)
        target = torch.randint(0, 4, (8, 96, 96))
        optimizer.zero_grad()
        logits, distances = model(image)
        loss_fn(logits, target, distances, torch.randn(8, 3, 96, 96)).total.backward()
        optimizer.step()
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().numpy().tobytes())
    print(digest.hexdigest())
    """
)


def test_reuse_changes_no_number() -> None:
    """Determinism: the allocator setting moves memory, never results."""
    digests = {mode: _python(TRAIN_STEPS, mode) for mode in ("reuse", "default")}
    assert digests["reuse"] == digests["default"]
    assert len(digests["reuse"].strip()) == 64


def _transparent_huge_pages_always() -> bool:
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return setting.is_file() and "[always]" in setting.read_text()


def test_freed_memory_is_reused_without_fresh_pages() -> None:
    applied, faults = _probe("reuse")
    assert applied
    assert faults < FRESH_PAGES // 100


def test_glibc_defaults_map_fresh_pages_for_the_same_allocation() -> None:
    """The control: without the setting the same probe pays for (almost) every page."""
    if _transparent_huge_pages_always():
        pytest.skip("huge pages make faults 512x rarer; the count says nothing")
    applied, faults = _probe("default")
    assert not applied
    assert faults > FRESH_PAGES // 2


def test_user_malloc_tunables_win() -> None:
    applied, faults = _probe("reuse", tunables="glibc.malloc.arena_max=2")
    assert not applied
    if not _transparent_huge_pages_always():
        assert faults > FRESH_PAGES // 2


def test_rejects_a_non_positive_limit() -> None:
    with pytest.raises(ValueError, match="limit_bytes must be positive"):
        reuse_freed_memory(0)
