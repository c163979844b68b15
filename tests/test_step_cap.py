"""``training.max_steps_per_epoch``: an epoch stops at N optimiser steps, validation sees at most N
batches, the history and the checkpoint record it, and a run is not resumed under another cap."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from test_data import make_preprocessed
from test_train import config, load

import dmr.train.steps
from dmr.errors import DmrError
from dmr.train import train


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_preprocessed(tmp_path_factory.mktemp("step_cap"), copies=2)


def _count_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts optimiser steps: one entry per call of train_step."""
    calls: list[int] = []
    real = dmr.train.steps.train_step

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dmr.train.steps, "train_step", counting)
    return calls


def test_an_epoch_stops_at_the_cap_and_the_history_records_it(folders, tmp_path, monkeypatch):
    whole = config(folders, tmp_path / "whole", epochs=1, loss="ce", model_name="unet-base")
    train(whole)
    full = pd.read_csv(whole.output / "history.csv").iloc[0]
    assert full["train_steps"] > 2 and full["val_batches"] >= 1

    calls = _count_steps(monkeypatch)
    capped = dataclasses.replace(
        whole, ckpt_dir=tmp_path / "c" / "ckpt", output=tmp_path / "c" / "model", epochs=2
    )
    capped = dataclasses.replace(capped, max_steps_per_epoch=2)
    train(capped)
    history = pd.read_csv(capped.output / "history.csv")
    assert len(calls) == 4  # 2 epochs x 2 steps
    assert history["train_steps"].tolist() == [2, 2]
    assert (history["val_batches"] <= 2).all()
    assert history["val_batches"].iloc[0] == min(2, full["val_batches"])
    assert math.isfinite(history["val_dice"].iloc[-1])
    for bundle in ("model.pt", "checkpoint.pt"):
        assert load(capped.output / bundle)["train_config"]["max_steps_per_epoch"] == 2
    assert load(capped.ckpt_dir / "last.pt")["config"]["max_steps_per_epoch"] == 2


def test_a_run_is_not_resumed_under_another_cap(folders, tmp_path):
    cfg = config(folders, tmp_path, epochs=1, max_steps_per_epoch=2)
    train(cfg)
    for other in (3, None):
        with pytest.raises(DmrError, match=r"max_steps_per_epoch: 2 → .*delete"):
            train(dataclasses.replace(cfg, epochs=2, max_steps_per_epoch=other))
    train(dataclasses.replace(cfg, epochs=2))  # the same cap resumes


def test_a_cap_below_one_is_refused_before_anything_is_written(folders, tmp_path):
    with pytest.raises(DmrError, match=r"--max-steps-per-epoch must be at least 1, got 0"):
        train(config(folders, tmp_path, max_steps_per_epoch=0))
    assert list(tmp_path.iterdir()) == []
