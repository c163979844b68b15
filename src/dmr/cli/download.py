"""``dmr download``: fetch a public dataset archive, verified and checked, into place."""

from __future__ import annotations

import argparse
from pathlib import Path

from dmr.cli.common import FORMATS


def _add_download(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "download",
        help="download, verify, unpack and check a public dataset archive (ACDC)",
        description="Stream a zip archive, verify its size, zip integrity and (when given) its "
        "SHA-256, unpack it without letting any member escape DEST, run the checks of "
        "`dmr check-data`, and only then move the dataset root to DEST with a manifest "
        "(download.json). On any failure DEST is not created.",
    )
    p.add_argument("--format", required=True, choices=FORMATS, help="dataset format")
    p.add_argument("--url", required=True, help="archive URL (http, https or file)")
    p.add_argument("--sha256", help="expected SHA-256 of the archive (64 hex digits)")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (logs still say what happens)"
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="dataset root to create")
    p.set_defaults(handler=_cmd_download)


def _cmd_download(args: argparse.Namespace) -> int:
    from dmr.datasets.download import download_dataset

    manifest = download_dataset(
        args.format, args.url, args.output, sha256=args.sha256, progress=not args.no_progress
    )
    print(
        f"{args.output}: {len(manifest['files'])} files from {manifest['url']} "
        f"({manifest['size']} bytes, sha256 {manifest['sha256']})"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``dmr`` parser."""
    _add_download(sub)
