"""``dmr download`` and the workflow's download rule against a loopback HTTP server (127.0.0.1)
serving a zipped phantom ACDC database: success, a wrong SHA-256, truncated archives, a 404, an
archive with a ``../`` member, data that fail the checks; a failure never leaves DEST behind."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from dmr.cli import main
from dmr.datasets.checks import check_dataset
from dmr.datasets.download import MANIFEST, download_dataset
from dmr.errors import DatasetError

ROOT = Path(__file__).resolve().parents[1]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _database(root: Path, prefix: str = "ACDC/database") -> dict[str, bytes]:
    """A dataset folder's files under ``prefix``, as the real ACDC zip lays them out."""
    return {
        f"{prefix}/{p.relative_to(root).as_posix()}": p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class _Server:
    """A loopback HTTP server: path -> body; ``/cut/...`` announces the full size, sends half."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                cut = self.path.startswith("/cut/")
                body = files.get(self.path.removeprefix("/cut") if cut else self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.url + path


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def archive(acdc_root: Path) -> bytes:
    return _zip(_database(acdc_root))


def _assert_nothing_left(dest: Path) -> None:
    """No DEST and no temporary folder beside it."""
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir()] == []


def test_download_verifies_unpacks_and_writes_a_manifest(
    server: _Server, archive: bytes, acdc_root: Path, tmp_path: Path
) -> None:
    url = server.serve("/acdc.zip", archive)
    sha = hashlib.sha256(archive).hexdigest()
    dest = tmp_path / "data" / "acdc"
    manifest = download_dataset("acdc", url, dest, sha256=sha.upper(), progress=False)
    expected = {MANIFEST} | {p.name for p in acdc_root.iterdir()}
    assert {p.name for p in dest.iterdir()} == expected >= {"training", "testing"}
    assert sorted(p.name for p in dest.parent.iterdir()) == ["acdc"]  # no temporary folder left
    for original in acdc_root.rglob("*"):
        if original.is_file():
            assert (dest / original.relative_to(acdc_root)).read_bytes() == original.read_bytes()
    on_disk = json.loads((dest / MANIFEST).read_text())
    assert on_disk == manifest
    assert (on_disk["url"], on_disk["size"], on_disk["sha256"]) == (url, len(archive), sha)
    assert on_disk["archive_root"] == "ACDC/database" and on_disk["date"].startswith("20")
    report = check_dataset("acdc", dest)
    assert report.ok and report.manifest == on_disk["files"]


def test_cli_download_reports_and_refuses_an_existing_dest(
    server: _Server, archive: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.serve("/cli.zip", archive)
    dest = tmp_path / "acdc"
    assert main(["download", "--format", "acdc", "--url", url, "-o", str(dest)]) == 0
    assert f"from {url}" in capsys.readouterr().out
    assert main(["download", "--format", "acdc", "--url", url, "-o", str(dest)]) == 1
    assert f"{dest}: already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong_sha256", "SHA-256 mismatch: expected 00000000"),
        ("truncated_file", "not a complete zip archive"),
        ("connection_cut", "download truncated"),
        ("http_404", "HTTP 404"),
        ("escaping_member", "member '../outside.txt' would be written outside the destination"),
        ("absolute_member", "member '/tmp/outside.txt' would be written outside the destination"),
        ("no_training_folder", "the archive holds no training/ folder"),
        ("failing_checks", "fail `dmr check-data` with"),
    ],
)
def test_failed_download_leaves_no_dest_and_says_why(
    case: str, message: str, server: _Server, archive: bytes, acdc_root: Path, tmp_path: Path
) -> None:
    files = _database(acdc_root)
    sha = None
    path = f"/{case}.zip"
    if case == "wrong_sha256":
        sha = "0" * 64
        url = server.serve(path, archive)
    elif case == "truncated_file":
        url = server.serve(path, archive[: len(archive) * 2 // 3])
    elif case == "connection_cut":
        server.serve(path, archive)
        url = f"{server.url}/cut{path}"
    elif case == "http_404":
        url = f"{server.url}/missing.zip"
    elif case == "escaping_member":
        url = server.serve(path, _zip({**files, "../outside.txt": b"escaped"}))
    elif case == "absolute_member":
        url = server.serve(path, _zip({**files, "/tmp/outside.txt": b"escaped"}))
    elif case == "no_training_folder":
        url = server.serve(path, _zip({"ACDC/readme.txt": b"no data"}))
    else:  # a corrupt image: the archive is sound but the data are not
        name = next(n for n in files if n.endswith("patient001_frame01.nii.gz"))
        url = server.serve(path, _zip({**files, name: files[name][:-200]}))
    dest = tmp_path / "data" / "acdc"
    dest.parent.mkdir()
    with pytest.raises(DatasetError) as error:
        download_dataset("acdc", url, dest, sha256=sha, progress=False)
    assert message in str(error.value)
    assert url in str(error.value)
    if case == "failing_checks":  # the broken file is named as the archive member it came from
        assert f"\n  {name}: corrupt or truncated" in str(error.value)
    _assert_nothing_left(dest)
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "data.txt").exists()


def test_lvsc_and_bad_checksums_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"Cardiac Atlas Project \(https://www.cardiacatlas"):
        download_dataset("lvsc", "http://127.0.0.1:9/x.zip", tmp_path / "lvsc")
    with pytest.raises(DatasetError, match="not a SHA-256"):
        download_dataset("acdc", "http://127.0.0.1:9/x.zip", tmp_path / "a", sha256="abc")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- the workflow
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def _download_config(tmp_path: Path, url: str, sha256: str = "", fmt: str = "acdc") -> Path:
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    acdc = config["datasets"]["acdc"]
    acdc.pop("phantom")
    acdc |= {"format": fmt, "source": "download", "download": {"url": url, "sha256": sha256}}
    config |= {"results": "results", "resources": "resources"}  # the paths this test reads
    path = tmp_path / "download.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.workflow
def test_workflow_starts_with_the_download(server: _Server, archive: bytes, tmp_path: Path) -> None:
    url = server.serve("/workflow.zip", archive)
    sha = hashlib.sha256(archive).hexdigest()
    config = _download_config(tmp_path, url, sha)
    workdir = tmp_path / "work"
    workdir.mkdir()
    args = ["results/acdc/data_check.json", "--cores", "1", "--configfile", str(config)]
    run = subprocess.run(
        [*SNAKEMAKE, *args, "--directory", str(workdir)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-5000:]
    data = workdir / "resources" / "downloaded" / "acdc"
    assert json.loads((data / MANIFEST).read_text())["sha256"] == sha
    check = json.loads((workdir / "results" / "acdc" / "data_check.json").read_text())
    assert check["ok"] and check["root"] == "resources/downloaded/acdc"


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("fmt", "where"),
    [
        ("lvsc", "cardiacatlas.org"),
        ("mnms", "ub.edu/mnms"),
        ("nnunet", "a folder you already hold"),
    ],
)
def test_workflow_refuses_to_download_other_formats(fmt: str, where: str, tmp_path: Path) -> None:
    config = _download_config(tmp_path, f"http://127.0.0.1:9/{fmt}.zip", fmt=fmt)
    run = subprocess.run(
        [*SNAKEMAKE, "-n", "--directory", str(tmp_path), "--configfile", str(config)],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "source 'download' is only available for ACDC" in run.stdout + run.stderr
    assert where in run.stdout + run.stderr
