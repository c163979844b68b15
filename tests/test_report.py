"""The HTML report: captions, provenance, the page built from hand-made files, and the test
config's ``results/report.html`` as headless Chromium renders it (screenshot + DOM)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from dmr.cli import main
from dmr.datasets.checks import check_dataset
from dmr.errors import InputError
from dmr.published.write import write_paper_vs_reproduced
from dmr.report import build_context, render_report, write_report
from dmr.report.captions import inline_spans, render_caption, rst_paragraphs
from dmr.report.context import figure_title, table_title
from dmr.report.provenance import git_commit, training_devices
from dmr.report.scope import MINIATURE, PAPER, SMOKE, RunScope, run_scope
from dmr.tables import Table, write_table

ROOT = Path(__file__).resolve().parents[1]
CAPTIONS = ROOT / "workflow" / "report"
CHROMIUM = shutil.which("chromium")
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}


class _Dom(HTMLParser):
    """Ids, tables and images of a page, each table/image owned by its nearest ancestor id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tables: Counter[str] = Counter()
        self.images: dict[str, list[str]] = defaultdict(list)
        self.links: list[str] = []  # every src and href
        self.anchors: list[str] = []  # hrefs of the navigation
        self._stack: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        owner = next((i for _, i in reversed(self._stack) if i), "")
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "table":
            self.tables[owner] += 1
        if tag == "img":
            self.images[owner].append(attributes.get("src", ""))
        self.links += [attributes[k] for k in ("src", "href") if k in attributes]
        if tag == "a" and any(t == "nav" for t, _ in self._stack):
            self.anchors.append(attributes.get("href", ""))
        if tag not in _VOID:
            self._stack.append((tag, attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop()[0] != tag:
            pass


def _png_bytes(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    return base64.b64decode(src[len(prefix) :])


# --------------------------------------------------------------------------- captions
def test_light_restructuredtext_becomes_spans() -> None:
    assert inline_spans("a *b* **c** ``d <e>`` f") == [
        ("text", "a "),
        ("em", "b"),
        ("text", " "),
        ("strong", "c"),
        ("text", " "),
        ("literal", "d <e>"),
        ("text", " f"),
    ]
    # Table captions' significance markers are not emphasis (rst needs a non-space inside).
    assert inline_spans("* p < 0.05, ** p < 0.005") == [("text", "* p < 0.05, ** p < 0.005")]
    assert rst_paragraphs("one\ntwo\n\n  three\n") == [[("text", "one two")], [("text", "three")]]


def test_captions_render_with_the_runs_config_like_snakemake_report(tmp_path: Path) -> None:
    config = {"stats": {"bootstrap_resamples": 123, "seed": 7}}
    text = "".join(t for p in render_caption(CAPTIONS / "fig5.rst", config) for _, t in p)
    assert "123 resamples, seed 7" in text and "{{" not in text
    bad = tmp_path / "bad.rst"
    bad.write_text("Dataset {{ snakemake.wildcards.dataset }}")
    with pytest.raises(InputError, match=r"bad\.rst: caption does not render"):
        render_caption(bad, config)


def _caption_text(name: str, config: dict, wildcards: dict[str, str] | None = None) -> str:
    paragraphs = render_caption(CAPTIONS / f"{name}.rst", config, wildcards)
    return " ".join(text for paragraph in paragraphs for _, text in paragraph)


def test_the_overview_caption_describes_each_datasets_format() -> None:
    config = {"datasets": {"acdc": {"format": "acdc"}, "lvsc": {"format": "lvsc"}}}
    acdc = _caption_text("dataset_figure", config, {"kind": "phantoms", "dataset": "acdc"})
    lvsc = _caption_text("dataset_figure", config, {"kind": "phantoms", "dataset": "lvsc"})
    assert "per clinical group (DCM" in acdc and "RV blood-pool" in acdc and "ACDC" in acdc
    assert "RV" not in lvsc and "DCM" not in lvsc and "per clinical group" not in lvsc
    assert "blood-pool" not in lvsc and "LV myocardium" in lvsc and "LVSC" in lvsc
    data = _caption_text("dataset_figure", config, {"kind": "data", "dataset": "lvsc"})
    assert "downloaded" in data and "phantom" not in data


def test_captions_spell_models_and_structures_one_way() -> None:
    """Every caption uses dmr.labels' names: no variant spelling of a model or a structure."""
    from dmr.labels import STRUCTURE_NAMES, model_display_name

    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["stats"] = {}
    variants = ("DMR-U-Net", "U-Net", "U-SegNet", "DMR UNet", "DMR SN", "DMR USN",
                "LV cavity", "RV cavity", "blood pool")  # fmt: skip
    for path in sorted(CAPTIONS.glob("*.rst")):
        text = path.read_text()
        found = [v for v in variants if v in text]
        assert not found, f"{path.name}: {found}"
    assert model_display_name("unet-dmr") in _caption_text("fig1", config)
    assert STRUCTURE_NAMES["lv"] in _caption_text("fig5", config)


def test_section_titles_follow_the_paper() -> None:
    assert table_title("table6a") == "Table VI(a)" and table_title("table1") == "Table I"
    assert figure_title("fig4b") == "Fig. 4(b)" and figure_title("figS3") == "Fig. S3"
    assert figure_title("phantoms_acdc") == "acdc: phantom overview"


# --------------------------------------------------------------------------- provenance
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_is_unknown_outside_a_checkout_and_dirty_with_changes(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "unknown"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "Snakefile").write_text("rule all:\n")
    subprocess.run([*git, "add", "Snakefile"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert git_commit(tmp_path) == sha
    (tmp_path / "new_rule.smk").write_text("")  # an untracked rule file changes the run too
    assert git_commit(tmp_path) == f"{sha} (dirty)"


def _history(root: Path, dataset: str, model: str, fold: int, **columns: list) -> Path:
    path = root / "results" / dataset / "models" / model / f"fold{fold}" / "history.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"epoch": [1, 2], **columns}).to_csv(path, index=False)
    return path


def test_training_devices_count_trainings_per_device_and_precision(tmp_path: Path) -> None:
    histories = [
        _history(tmp_path, "acdc", "unet-base", 0, device=["cpu", "cpu"]),
        _history(tmp_path, "acdc", "unet-base", 1, device=["cpu", "cpu"]),
        _history(tmp_path, "lvsc", "unet-dmr", 0, device=["cuda:0"] * 2, precision=["bf16"] * 2),
    ]
    assert training_devices(histories) == [
        {"device": "cpu", "precision": "", "trainings": 2},
        {"device": "cuda:0", "precision": "bf16", "trainings": 1},
    ]
    no_device = _history(tmp_path, "acdc", "unet-dmr", 0, seconds=[1.0, 1.0])
    with pytest.raises(InputError, match=r"history\.csv: needs at least one epoch row"):
        training_devices([no_device])


# --------------------------------------------------------------------------- the page
@pytest.fixture
def run_files(tmp_path: Path, acdc_root: Path) -> dict[str, object]:
    """The report's inputs as the workflow lays them out, made by the same writers."""
    results = tmp_path / "results"
    display = pd.DataFrame({("ED", "UNet"): ["81.0"], ("ED", "DMR-UNet"): ["82.0**"]})
    display.index = ["Dice (%)"]
    display.columns = pd.MultiIndex.from_tuples(display.columns)
    bold = pd.DataFrame([[False, True]], index=display.index, columns=display.columns)
    table = Table(
        frame=pd.DataFrame({"metric": ["Dice (%)"]}),
        caption="Table II(a): <mean> Dice",
        notes=["n = 2 & 2"],
        display=display,
        bold=bold,
    )
    write_table(table, results / "tables" / "table2a")
    figures = results / "figures"
    figures.mkdir(parents=True)
    Image.new("RGB", (12, 8), (200, 30, 30)).save(figures / "fig5.png")
    Image.new("RGB", (8, 8), (30, 30, 200)).save(figures / "phantoms_acdc.png")
    (results / "acdc").mkdir()
    check = check_dataset("acdc", acdc_root).to_dict()
    (results / "acdc" / "data_check.json").write_text(json.dumps(check))
    write_paper_vs_reproduced([], results / "tables" / "paper_vs_reproduced")
    config = results / "report" / "config.json"
    resolved = json.dumps(yaml.safe_load((ROOT / "config" / "test.yaml").read_text()))
    assert main(["write-config", "--config-json", resolved, "-o", str(config)]) == 0
    return {
        "config_path": config,
        "config_files": ["config/config.yaml", "config/test.yaml"],
        "tables": [results / "tables" / "table2a.html"],
        "figures": [figures / "fig5.png", figures / "phantoms_acdc.png"],
        "summary": results / "tables" / "paper_vs_reproduced.json",
        "data_checks": [results / "acdc" / "data_check.json"],
        "histories": [_history(tmp_path, "acdc", "unet-dmr", 0, device=["cpu", "cpu"])],
        "captions": CAPTIONS,
        "workflow_dir": tmp_path,
    }


def test_the_page_holds_every_section_escaped_and_self_contained(run_files: dict) -> None:
    context = build_context(**run_files, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    html = render_report(context)
    dom = _Dom(html)
    assert {"provenance", "summary", "table2a", "fig5", "phantoms_acdc", "data-acdc"} <= dom.ids
    assert set(dom.anchors) == {f"#{i}" for i in dom.ids}  # the navigation links every one
    assert dom.tables["table2a"] == 1 and dom.tables["data-acdc"] == 1
    assert _png_bytes(dom.images["fig5"][0]) == run_files["figures"][0].read_bytes()
    assert all(link.startswith(("data:", "#")) for link in dom.links)  # nothing to fetch
    # The fragment is embedded as written (escaped once), the rest escaped by the template.
    assert "Table II(a): &lt;mean&gt; Dice" in html and "n = 2 &amp; 2" in html
    assert "<strong>82.0**</strong>" in html
    assert "2026-01-02T03:04:05+00:00" in html and "cpu, precision not recorded: 1 training" in html
    summary = json.loads(run_files["summary"].read_text())
    assert f"{summary['numbers']} published numbers" in html
    for status in ("holds", "contradicted", "inconclusive", "not-meaningful"):
        assert f'class="status {status}"' not in html  # nothing ran: every claim is "not run"
    assert html.count('class="status not-run"') == 7
    # The header names the config files and says the run is a smoke run (config/test.yaml).
    assert "<code>config/config.yaml</code>, then <code>config/test.yaml</code>" in html
    assert 'class="banner smoke-run"' in html and "This is a smoke run" in html


def test_an_lvsc_data_check_shows_no_groups_and_its_own_caption(
    run_files: dict, lvsc_root: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    (results / "lvsc").mkdir()
    check = results / "lvsc" / "data_check.json"
    check.write_text(json.dumps(check_dataset("lvsc", lvsc_root).to_dict()))
    overview = results / "figures" / "phantoms_lvsc.png"
    Image.new("RGB", (8, 8), (30, 200, 30)).save(overview)
    context = build_context(
        **{
            **run_files,
            "figures": [*run_files["figures"], overview],
            "data_checks": [*run_files["data_checks"], check],
        }
    )
    checks = {c.dataset: c for c in context.data_checks}
    assert checks["lvsc"].groups == {} and checks["acdc"].groups  # ACDC keeps its groups
    html = render_report(context)
    lvsc = html[html.index('id="data-lvsc"') :]
    lvsc = lvsc[: lvsc.index("</figure>")]
    assert "groups</th>" not in lvsc and "unknown" not in lvsc
    caption = lvsc[lvsc.index("<figcaption>") :]
    assert "LV myocardium" in caption and "RV" not in caption and "DCM" not in caption
    acdc = html[html.index('id="data-acdc"') : html.index('id="data-lvsc"')]
    assert "groups</th>" in acdc and "RV blood-pool" in acdc
    # A data check written before LVSC's groups were left out ({"unknown": 3}) shows none too.
    old = json.loads(check.read_text()) | {"groups": {"unknown": 3}}
    check.write_text(json.dumps(old))
    assert build_context(**{**run_files, "data_checks": [check]}).data_checks[0].groups == {}


def test_bad_inputs_are_refused_naming_the_file(run_files: dict, tmp_path: Path) -> None:
    fake = tmp_path / "results" / "figures" / "fig6.png"
    fake.write_text("not a png")
    with pytest.raises(InputError, match=r"fig6\.png: not a PNG file"):
        build_context(**{**run_files, "figures": [fake]})
    nameless = fake.with_name("figX.png")
    Image.new("RGB", (4, 4)).save(nameless)
    with pytest.raises(InputError, match=r"figX\.rst: no caption for 'figX'"):
        build_context(**{**run_files, "figures": [nameless]})
    summary = tmp_path / "summary.json"
    summary.write_text('{"numbers": 1}')
    with pytest.raises(InputError, match=r"summary\.json: summary lacks key\(s\)"):
        build_context(**{**run_files, "summary": summary})


def test_the_cli_writes_the_report_and_refuses_a_bad_config(
    run_files: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "results" / "report.html"
    argv = ["report", "--config", str(run_files["config_path"]),
            "--summary", str(run_files["summary"]),
            "--tables", *map(str, run_files["tables"]),
            "--figures", *map(str, run_files["figures"]),
            "--data-checks", *map(str, run_files["data_checks"]),
            "--histories", *map(str, run_files["histories"]),
            "--captions", str(CAPTIONS), "--workflow-dir", str(tmp_path),
            "--config-files", "config/config.yaml", "my run.yaml",
            "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert 'id="table2a"' in out.read_text()
    assert "<code>my run.yaml</code>" in out.read_text()
    assert main(["write-config", "--config-json", "[1]", "-o", str(tmp_path / "c.json")]) == 1
    assert "expected a JSON object" in capsys.readouterr().err
    write_report(build_context(**run_files), out)  # rewritten atomically, no temp file left
    assert not list(out.parent.glob(".report*"))


# --------------------------------------------------------------------------- in Chromium
def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on a local file, offline, with a fresh profile."""
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args, page.as_uri()]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.workflow
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs the chromium binary (Debian: apt-get install -y chromium; .ci/run installs it)",
)
def test_the_runs_report_renders_in_chromium_with_every_table_and_figure(
    test_run: Path, tmp_path: Path
) -> None:
    results = test_run / yaml.safe_load((ROOT / "config" / "test.yaml").read_text())["results"]
    report = results / "report.html"
    shot = tmp_path / "report.png"
    run = _chromium(
        report, tmp_path / "profile1", f"--screenshot={shot}", "--window-size=1280,4000"
    )
    assert run.returncode == 0 and shot.is_file(), run.stderr[-3000:]
    run = _chromium(report, tmp_path / "profile2", "--dump-dom")
    assert run.returncode == 0, run.stderr[-3000:]
    dom = _Dom(run.stdout)

    # Every table and figure the run wrote (derived from its files) is on the page by its stem.
    tables = sorted(p.stem for p in (results / "tables").glob("*.html"))
    figures = {p.stem: p for p in (results / "figures").glob("*.png")}
    assert {"table1", "table2a", "table6b"} <= set(tables) and {"fig1", "figS5"} <= set(figures)
    missing = sorted((set(tables) | set(figures) | {"summary", "provenance"}) - dom.ids)
    assert not missing, f"not on the page: {missing}"
    for stem in tables:
        assert dom.tables[stem] == 1, stem
        assert f"#{stem}" in dom.anchors, stem
    for stem, png in figures.items():
        (src,) = dom.images[stem]
        assert _png_bytes(src) == png.read_bytes(), stem  # the run's own image, decoded intact
        assert f"#{stem}" in dom.anchors, stem
    for check in results.glob("*/data_check.json"):
        assert f"data-{check.parent.name}" in dom.ids
    assert all(link.startswith(("data:", "#")) for link in dom.links)  # opens offline

    # The screenshot shows a page, not a blank or an error: many colours, much non-white.
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (4000, 1280, 3)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    inked = (pixels < 240).any(axis=2).mean()
    assert colours > 200 and inked > 0.1, f"{shot}: {colours} colours, {inked:.1%} non-white"


def _config(name: str = "config.yaml") -> dict:
    """One config file as the workflow reads it: complete on its own (no file is laid over
    another; schema defaults do not change the scope)."""
    return yaml.safe_load((ROOT / "config" / name).read_text())


def test_the_run_scope_tells_the_paper_from_a_miniature_and_a_smoke_run() -> None:
    default = run_scope(_config())
    assert default.kind == MINIATURE
    assert "acdc: 16-32 epochs instead of the paper's 100" in default.reasons
    assert "lvsc: width 16 instead of the paper's 32" in default.reasons
    assert any(r.startswith("synthetic phantom data (acdc, lvsc)") for r in default.reasons)
    assert run_scope(_config("test.yaml")).kind == SMOKE
    assert run_scope(_config("paper.yaml")) == RunScope(PAPER)
    rehearsal = run_scope(_config("rehearsal.yaml"))
    assert rehearsal.kind == SMOKE
    assert "acdc: at most 1 training step per epoch (a rehearsal)" in rehearsal.reasons
