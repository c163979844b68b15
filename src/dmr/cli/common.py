"""What several ``dmr`` subcommands share: choices, option helpers and JSON parsing."""

from __future__ import annotations

import argparse
import json

from dmr.datasets import FORMATS
from dmr.errors import DmrError
from dmr.switch import SWITCH_CHOICES

ARCHS = ("segnet", "usegnet", "unet")
__all__ = ["ARCHS", "FORMATS", "add_format", "parse_json_object"]


def add_format(p: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--format`` and ``--reader-options``, the two things every reader of raw data needs."""
    p.add_argument("--format", required=True, choices=FORMATS, help=help)
    p.add_argument(
        "--reader-options",
        type=_reader_options,
        default=None,
        metavar="JSON",
        help="the reader's options as a JSON object (nnunet: label map, case pattern or phases "
        "CSV; mnms: information CSV, group); the config's datasets.<name>.reader",
    )


def _reader_options(text: str) -> dict:
    return parse_json_object(text, "--reader-options")


def parse_json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DmrError(f"{option}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise DmrError(f"{option}: expected a JSON object, got {type(value).__name__}")
    return value


def _add_amp_option(
    p: argparse.ArgumentParser, default: str, choices: tuple[str, ...], help: str
) -> None:
    """``--amp`` (a bare ``--amp`` is ``true``) and ``--no-amp`` (``false``)."""
    p.add_argument("--amp", nargs="?", const="true", default=default, choices=choices, help=help)
    p.add_argument("--no-amp", dest="amp", action="store_const", const="false", help="--amp false")


def add_amp(p: argparse.ArgumentParser) -> None:
    """``--amp auto|true|false`` of training."""
    _add_amp_option(
        p,
        "auto",
        SWITCH_CHOICES,
        "bf16 autocast: auto = on CUDA GPUs with native bf16, float32 on CPUs (bf16 did not pay "
        "at the default's sizes); true forces it (worth it on CPUs with AMX or AVX512-BF16 at "
        "the paper's sizes), false is float32 (%(default)s)",
    )


def add_inference_amp(p: argparse.ArgumentParser) -> None:
    """``--amp trained|auto|true|false`` of inference: by default each model's own precision."""
    _add_amp_option(
        p,
        "trained",
        ("trained", *SWITCH_CHOICES),
        "precision of inference: trained = the one each model trained in (its bundle records "
        "it), so the labels are those its evaluation saw; auto/true/false as in `dmr train` "
        "(%(default)s)",
    )


def add_reuse_freed_memory(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reuse-freed-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let glibc's malloc keep freed tensor memory for reuse: CPU steps at 256 px "
        "1.15-1.4x faster, peak memory up to ~2 GiB higher (%(default)s)",
    )


def apply_reuse_freed_memory(args: argparse.Namespace) -> None:
    if args.reuse_freed_memory:
        from dmr.train.allocator import reuse_freed_memory

        reuse_freed_memory()
