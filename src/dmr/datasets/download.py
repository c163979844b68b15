"""Fetch a public dataset archive into place, verified (``dmr download`` and the download rule).

Only a complete, verified dataset ever appears at the destination: the archive is streamed into a
temporary folder beside it (SHA-256 computed on the way, size checked against the server's
``Content-Length``), unpacked there member by member (no member may leave that folder; zip CRCs
are checked as each is read), checked with the same checks as ``dmr check-data``, and only then
renamed to the destination with a manifest (URL, size, SHA-256, date, per-file hashes) inside it.
Any failure removes the temporary folder and raises :class:`~dmr.errors.DatasetError` naming the
URL or the archive member and what went wrong.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from dmr.datasets import lvsc
from dmr.datasets.checks import check_dataset
from dmr.errors import DatasetError

log = logging.getLogger(__name__)

#: The ACDC training and testing sets as one zip (Human Heart Project database of CREATIS); it
#: unpacks to ``ACDC/database/{training,testing}/patientNNN/``.
ACDC_URL = (
    "https://humanheart-project.creatis.insa-lyon.fr/database/api/v1/collection/"
    "637218c173e9f0047faa00fb/download"
)
#: The file written beside the data (inside the destination folder).
MANIFEST = "download.json"
#: The folder that marks a dataset's root inside an archive, per format.
_ROOT_MARKER = {"acdc": "training"}
_CHUNK = 1 << 20
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Fetched:
    """An archive on disk with what was measured while it was received."""

    path: Path
    size: int
    sha256: str


def lvsc_refusal() -> str:
    """Why LVSC cannot be downloaded, and where to ask for it."""
    return (
        "LVSC cannot be downloaded automatically: the LV Segmentation Challenge 2011 data are "
        f"given out after a registration with the Cardiac Atlas Project ({lvsc.SOURCE_URL}). "
        "Request them there, unpack them and point a `source: path` dataset at the folder."
    )


def _check_sha256(sha256: str | None) -> str | None:
    if sha256 is None or sha256 == "":
        return None
    text = sha256.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise DatasetError(f"--sha256 {sha256!r}: not a SHA-256 (64 hexadecimal digits)")
    return text


def fetch(url: str, target: Path, progress: bool = True) -> Fetched:
    """Stream ``url`` to ``target``, hashing it; an HTTP error, a dropped connection or a size other
    than the announced ``Content-Length`` raises a :class:`DatasetError` naming the URL."""
    request = urllib.request.Request(url, headers={"User-Agent": "dmr-cardiac"})
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            log.info("downloading %s (%s bytes) to %s", url, expected or "unknown", target)
            with (
                target.open("wb") as out,
                tqdm(
                    total=expected,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=target.name,
                    file=sys.stderr,
                    disable=not progress,
                    mininterval=0.5 if sys.stderr.isatty() else 10.0,
                ) as bar,
            ):
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise DatasetError(f"{url}: download failed: HTTP {exc.code} {exc.reason}") from exc
    except http.client.IncompleteRead as exc:
        raise DatasetError(
            f"{url}: download truncated: the connection closed after {size + len(exc.partial)} "
            f"of {size + len(exc.partial) + (exc.expected or 0)} bytes"
        ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DatasetError(f"{url}: download failed: {reason}") from exc
    if expected is not None and size != expected:
        raise DatasetError(f"{url}: download truncated: {size} of {expected} bytes received")
    if size == 0:
        raise DatasetError(f"{url}: download failed: the server sent an empty file")
    return Fetched(target, size, digest.hexdigest())


def _member_path(info: zipfile.ZipInfo, root: Path, archive: str) -> Path | None:
    """Where a member goes under ``root``; refuses members that would land outside it or links."""
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DatasetError(f"{archive}: member {name!r} is a symbolic link; refusing to unpack")
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise DatasetError(
            f"{archive}: member {name!r} would be written outside the destination; "
            "refusing to unpack"
        )
    if not parts:
        return None
    target = root.joinpath(*parts)
    if not target.resolve().is_relative_to(root.resolve()):
        raise DatasetError(f"{archive}: member {name!r} escapes the destination")
    return target


def unpack(archive: Path, root: Path, label: str) -> None:
    """Unpack a zip below ``root``, checking every member's path first and its CRC while reading.

    ``label`` names the archive in messages (its URL). A file that is not a complete zip (e.g. a
    truncated download) or a member with a bad CRC raises a :class:`DatasetError`.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            targets = [(info, _member_path(info, root, label)) for info in members]
            for info, target in targets:
                if target is None:
                    continue
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{label}: not a complete zip archive ({exc})") from exc
    except (EOFError, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise DatasetError(f"{label}: cannot unpack the zip archive ({exc})") from exc
    log.info("unpacked %d archive members", len(members))


def find_dataset_root(fmt: str, unpacked: Path, label: str) -> Path:
    """The shallowest folder of an unpacked archive that holds the format's ``training/`` folder."""
    marker = _ROOT_MARKER[fmt]
    candidates = sorted(
        (p.parent for p in unpacked.rglob(marker) if p.is_dir()),
        key=lambda p: (len(p.relative_to(unpacked).parts), str(p)),
    )
    if not candidates:
        raise DatasetError(
            f"{label}: the archive holds no {marker}/ folder; an {fmt.upper()} download unpacks "
            f"to .../{marker}/patientNNN/"
        )
    return candidates[0]


def _manifest(
    url: str, fetched: Fetched, fmt: str, archive_root: str, files: dict[str, str]
) -> dict[str, Any]:
    return {
        "url": url,
        "format": fmt,
        "size": fetched.size,
        "sha256": fetched.sha256,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "archive_root": archive_root,
        "files": dict(sorted(files.items())),
    }


def download_dataset(
    fmt: str, url: str, dest: Path, sha256: str | None = None, progress: bool = True
) -> dict[str, Any]:
    """Download, verify, unpack and check a dataset archive; ``dest`` becomes its root folder.

    Returns the manifest written to ``dest / MANIFEST``. ``dest`` must not exist yet; on any
    failure it still does not, and no temporary file is left beside it.
    """
    if fmt == "lvsc":
        raise DatasetError(lvsc_refusal())
    if fmt not in _ROOT_MARKER:
        raise DatasetError(f"unknown dataset format {fmt!r}; downloadable: {sorted(_ROOT_MARKER)}")
    expected_sha = _check_sha256(sha256)
    dest = Path(dest)
    if dest.exists():
        raise DatasetError(f"{dest}: already exists; remove it to download again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".download", dir=dest.parent))
    try:
        fetched = fetch(url, work / "archive.zip", progress=progress)
        if expected_sha is not None and fetched.sha256 != expected_sha:
            raise DatasetError(
                f"{url}: SHA-256 mismatch: expected {expected_sha}, got {fetched.sha256} "
                f"({fetched.size} bytes); the archive differs from the one the config pins"
            )
        log.info("received %d bytes, sha256 %s", fetched.size, fetched.sha256)
        unpacked = work / "unpacked"
        unpacked.mkdir()
        unpack(fetched.path, unpacked, url)
        fetched.path.unlink()  # free the space before the checks
        root = find_dataset_root(fmt, unpacked, url)
        report = check_dataset(fmt, root)
        if not report.ok:
            # Name files as archive members: the temporary folder is gone when this is read.
            problems = [p.replace(f"{unpacked}{os.sep}", "") for p in report.problems]
            more = len(problems) - 20
            raise DatasetError(
                f"{url}: the unpacked data fail `dmr check-data` with {len(problems)} "
                "problem(s) (paths inside the archive):\n  "
                + "\n  ".join(problems[:20])
                + (f"\n  ... and {more} more" if more > 0 else "")
            )
        archive_root = root.relative_to(unpacked).as_posix()
        manifest = _manifest(url, fetched, fmt, archive_root, report.manifest)
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(root, dest)
        log.info("%s: %s", dest, report.summary())
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)
