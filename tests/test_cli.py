"""Smoke tests of the `dmr` command line (the contract the Snakemake rules call)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
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
    [
        *("fig1", "fig4a", "fig4b", "fig5", "fig6", "fig7"),
        *("figS1", "figS2", "figS3", "figS4", "figS5", "regions", "groups"),
    ],
)
def test_every_paper_figure_has_a_subcommand(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["figure", name, "--help"])
    assert exc.value.code == 0
    assert f"usage: dmr figure {name}" in capsys.readouterr().out


def test_corrupt_model_is_one_error_line_without_pytorch_advice(tmp_path: Path) -> None:
    """The real process's stderr: no traceback, no ``weights_only`` advice or warning.

    The bytes start like a protocol-4 pickle, which PyTorch's weights-only loader warns about.
    """
    model = tmp_path / "model.pt"
    model.write_bytes(b"\x80\x04" + np.random.default_rng(0).bytes(254))
    out = tmp_path / "labels.nii.gz"
    argv = ["predict", "--model", str(model), "in.nii.gz", "-o", str(out)]
    run = subprocess.run(
        [sys.executable, "-m", "dmr.cli", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr and "weights_only" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        f"dmr predict: error: {model}: not a dmr model file "
        "(corrupt or not a checkpoint: not a PyTorch zip archive)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
