"""Smoke tests of the `dmr` command line (the contract the Snakemake rules call)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dmr.cli import build_parser, main

SUBCOMMANDS = (
    "phantoms",
    "figure-phantoms",
    "check-data",
    "preprocess",
    "augment",
    "folds",
    "train",
    "predict",
    "predict-cv",
    "metrics",
    "evaluate",
    "table1",
    "table2a",
    "paper-vs-reproduced",
    "figure",
)


def test_console_script_lists_every_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dmr.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([name, "--help"])
    assert exc.value.code == 0
    assert "usage: dmr " + name in capsys.readouterr().out


def test_bad_json_option_is_a_clear_error(
    tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["phantoms", "--format", "acdc", "--cases", "2", "--domain-json", "{", "-o", "x"])
    assert code == 1
    assert "--domain-json: not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name",
    ["fig1", "fig4a", "fig4b", "fig5", "fig6", "fig7", "figS1", "figS2", "figS3", "figS4", "figS5"],
)
def test_every_paper_figure_has_a_subcommand(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["figure", name, "--help"])
    assert exc.value.code == 0
    assert f"usage: dmr figure {name}" in capsys.readouterr().out
