"""The training loop on tiny disc phantoms: it learns, its outputs load safely, resume is exact."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_data import make_preprocessed

import dmr.train.loop
import dmr.train.precision
from dmr.cli import main
from dmr.errors import DmrError
from dmr.models import build_model, count_parameters
from dmr.train import HISTORY_COLUMNS, TrainConfig, build_optimizer, train
from dmr.train.checkpoint import save_checkpoint
from dmr.train.config import TIMING_COLUMNS
from dmr.train.history import sigma_ratios
from dmr.train.losses import build_loss


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_preprocessed(tmp_path_factory.mktemp("train"), copies=2)


def config(folders: dict[str, Path], root: Path, **changes) -> TrainConfig:
    cfg = TrainConfig(
        preprocessed=folders["preprocessed"],
        augmented=folders["augmented"],
        folds=folders["folds"],
        fold=0,
        arch="unet",
        model_name="unet-dmr",
        loss="dmr",
        weighting="learned",
        threshold=20.0,
        width=4,
        epochs=3,
        batch_size=8,
        lr=3e-3,
        lr_decay=0.99,
        seed=0,
        device="cpu",
        threads=1,
        amp=False,
        ckpt_dir=root / "ckpt",
        output=root / "model",
    )
    return dataclasses.replace(cfg, **changes)


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_training_learns_and_writes_loadable_outputs(folders, tmp_path):
    cfg = config(folders, tmp_path, epochs=10)
    train(cfg)
    history = pd.read_csv(cfg.output / "history.csv")
    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert history["epoch"].tolist() == list(range(1, 11))
    assert history["train_loss"].iloc[-1] < 0.7 * history["train_loss"].iloc[0]
    # Predicting every pixel as one class scores a foreground Dice below 0.1 on these slices.
    assert history["val_dice"].max() > 0.5
    assert history["lr"].iloc[1] == pytest.approx(3e-3 * 0.99)
    # The distance decoder learns: validation MAD falls; Dice losses are 1 - Dice in [0, 1].
    assert history["val_mad"].iloc[-1] < 0.8 * history["val_mad"].iloc[0]
    assert (history["val_dice_loss"] == 1.0 - history["val_dice"]).all()
    assert history["train_dice_loss"].between(0.0, 1.0).all()
    assert history["train_dice_loss"].iloc[-1] < history["train_dice_loss"].iloc[0]

    bundle = load(cfg.output / "model.pt")
    checkpoint = load(cfg.output / "checkpoint.pt")
    assert bundle["best_val_dice"] == pytest.approx(history["val_dice"].max())
    assert bundle["best_epoch"] == int(history["val_dice"].idxmax()) + 1
    assert bundle["preprocess"] == {"spacing": 1.5, "size": 32, "clip_percentile": 99.0}
    assert bundle["label_values"] == [0, 1, 2, 3] and bundle["fold"] == 0
    assert bundle["model_config"]["regularized"] is False
    plain = build_model("unet", regularized=False, num_classes=4, width=4)
    plain.load_state_dict(bundle["state_dict"])  # strict: exactly the plain network's keys
    n_bundle = sum(bundle["state_dict"][name].numel() for name, _ in plain.named_parameters())
    assert n_bundle == count_parameters(plain)
    full = build_model("unet", regularized=True, num_classes=4, width=4)
    full.load_state_dict(checkpoint["state_dict"])
    assert count_parameters(full) > count_parameters(plain)
    assert set(checkpoint["loss_state"]) == {"log_sigma_ce", "log_sigma_mad"}
    # the plain weights are the best checkpoint's segmentation branch
    for key, value in bundle["state_dict"].items():
        torch.testing.assert_close(value, checkpoint["state_dict"][f"segmentation.{key}"])
    assert load(cfg.ckpt_dir / "last.pt")["epoch"] == 10


def _final_state(cfg: TrainConfig) -> tuple[dict, dict, pd.DataFrame]:
    return (
        load(cfg.output / "model.pt"),
        load(cfg.output / "checkpoint.pt"),
        pd.read_csv(cfg.output / "history.csv").drop(columns=list(TIMING_COLUMNS)),
    )


def _assert_same_run(a: tuple, b: tuple) -> None:
    for bundle_a, bundle_b in zip(a[:2], b[:2], strict=True):
        torch.testing.assert_close(bundle_a["state_dict"], bundle_b["state_dict"], rtol=0, atol=0)
    torch.testing.assert_close(a[1]["loss_state"], b[1]["loss_state"], rtol=0, atol=0)
    pd.testing.assert_frame_equal(a[2], b[2])


def test_resume_after_a_kill_gives_identical_weights(folders, tmp_path, monkeypatch):
    straight = config(folders, tmp_path / "straight", augmented=None)
    train(straight)
    expected = _final_state(straight)

    # Kill during the third epoch: only last.pt of epoch 2 survives.
    resumed = config(folders, tmp_path / "resumed", augmented=None)
    real_epoch = dmr.train.loop.train_one_epoch

    def dying_epoch(*args, **kwargs):
        if kwargs["epoch"] == 2:
            raise KeyboardInterrupt("killed")
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(dmr.train.loop, "train_one_epoch", dying_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(resumed)
    assert load(resumed.ckpt_dir / "last.pt")["epoch"] == 2
    assert not (resumed.output / "model.pt").exists()
    monkeypatch.setattr(dmr.train.loop, "train_one_epoch", real_epoch)
    train(resumed)
    _assert_same_run(expected, _final_state(resumed))

    # Extending a finished run (epochs 2 -> 3) continues it exactly as well.
    extended = config(folders, tmp_path / "extended", augmented=None, epochs=2)
    train(extended)
    train(dataclasses.replace(extended, epochs=3))
    _assert_same_run(expected, _final_state(extended))

    # Snakemake deletes the outputs of a failed job: a rerun rewrites them without retraining.
    for name in ("model.pt", "checkpoint.pt", "history.csv"):
        (straight.output / name).unlink()
    train(straight)
    _assert_same_run(expected, _final_state(straight))


def test_resume_with_a_different_config_names_the_fields(folders, tmp_path):
    cfg = config(folders, tmp_path, epochs=1, loss="ce", model_name="unet-base")
    train(cfg)
    with pytest.raises(DmrError, match=r"lr: 0\.003 → 0\.01.*delete"):
        train(dataclasses.replace(cfg, lr=0.01))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": -1.0}, r"--lr must be positive, got -1\.0"),
        ({"lr": 0.0}, r"--lr must be positive"),
        ({"lr_decay": 1.5}, r"--lr-decay must be in \(0, 1\], got 1\.5"),
        ({"epochs": 0}, r"--epochs must be at least 1, got 0"),
        ({"batch_size": 0}, r"--batch-size must be at least 1"),
        ({"bn_stats_slices": -1}, r"--bn-stats-slices must be >= 0, got -1"),
        ({"augmented_copies": -1}, r"--augmented-copies must be >= 0, got -1"),
    ],
)
def test_bad_training_settings_are_named_before_anything_is_written(
    folders, tmp_path, changes, message
):
    with pytest.raises(DmrError, match=message):
        train(config(folders, tmp_path, **changes))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["random", "text", "truncated"])
def test_a_corrupt_resume_checkpoint_is_named_in_one_line(folders, tmp_path, content):
    """A damaged last.pt: PyTorch's ten lines of weights_only advice would be wrong here."""
    cfg = config(folders, tmp_path, epochs=1)
    saved = tmp_path / "saved.pt"
    save_checkpoint(saved, {"kind": "train-state", "weights": torch.zeros(1000)})
    data = {
        "random": np.random.default_rng(0).bytes(256),
        "text": b"epoch: 3\nnot a checkpoint\n",
        "truncated": saved.read_bytes()[:-100],
    }[content]
    cfg.ckpt_dir.mkdir()
    last = cfg.ckpt_dir / "last.pt"
    last.write_bytes(data)
    with pytest.raises(DmrError) as caught:
        train(cfg)
    message = str(caught.value)
    assert message.startswith(
        f"{last}: not a dmr training state file (corrupt or not a checkpoint: "
    )
    assert message.endswith("; delete it to train this fold from the start")
    assert "\n" not in message and "weights_only" not in message
    assert last.read_bytes() == data and list(cfg.ckpt_dir.iterdir()) == [last]
    assert not cfg.output.exists()


def test_cli_train_smoke(folders, tmp_path):
    status = main(
        [
            "train",
            *("--preprocessed", str(folders["preprocessed"]), "--folds", str(folders["folds"])),
            *("--fold", "1", "--arch", "segnet", "--model-name", "segnet-base", "--width", "4"),
            *("--epochs", "1", "--batch-size", "16", "--device", "cpu"),
            *("--ckpt-dir", str(tmp_path / "ckpt"), "-o", str(tmp_path / "out")),
        ]
    )
    assert status == 0
    bundle = load(tmp_path / "out" / "model.pt")
    assert bundle["model_name"] == "segnet-base" and bundle["fold"] == 1
    missing = tmp_path / "nowhere"
    status = main(
        [
            "train",
            *("--preprocessed", str(missing), "--folds", str(folders["folds"]), "--fold", "0"),
            *("--arch", "unet", "--model-name", "x", "--ckpt-dir", str(tmp_path / "c2")),
            *("-o", str(tmp_path / "o2")),
        ]
    )
    assert status == 1


def test_base_model_history_has_nan_distance_columns(folders, tmp_path):
    cfg = config(folders, tmp_path, loss="ce", model_name="unet-base", epochs=1)
    train(cfg)
    history = pd.read_csv(cfg.output / "history.csv")
    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert history["val_mad"].isna().all() and history["train_mad"].isna().all()
    assert history["val_dice_loss"].notna().all() and history["train_dice_loss"].notna().all()


@pytest.mark.parametrize(
    ("units", "amp", "expected"),
    [([], "auto", "fp32"), (["amx_bf16"], "auto", "fp32"), (["amx_bf16"], "true", "bf16")],
)
def test_history_records_the_precision_amp_chose(
    folders, tmp_path, monkeypatch, units, amp, expected
):
    monkeypatch.setattr(dmr.train.precision, "cpu_bf16_units", lambda: units)
    cfg = config(folders, tmp_path, amp=amp, epochs=1, loss="ce", model_name="unet-base")
    train(cfg)
    history = pd.read_csv(cfg.output / "history.csv")
    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert HISTORY_COLUMNS.index("precision") == HISTORY_COLUMNS.index("device") + 1
    assert history["precision"].tolist() == [expected]
    assert load(cfg.output / "model.pt")["precision"] == expected


def test_in_memory_and_streamed_data_train_identically(folders, tmp_path):
    in_memory = config(folders, tmp_path / "memory", data_on_device=True)
    streamed = config(folders, tmp_path / "disk", data_on_device=False)
    train(in_memory)
    train(streamed)
    _assert_same_run(_final_state(in_memory), _final_state(streamed))


def test_checkpoints_from_before_amp_auto_still_resume(folders, tmp_path, monkeypatch):
    """A last.pt written before the precision/data options (amp: true meant float32 on CPU)
    resumes under amp auto on a CPU without bf16 units."""
    monkeypatch.setattr(dmr.train.precision, "cpu_bf16_units", lambda: [])
    cfg = config(folders, tmp_path, epochs=1, loss="ce", model_name="unet-base", amp="auto")
    train(cfg)
    last = cfg.ckpt_dir / "last.pt"
    state = load(last)
    del state["precision"]
    for key in ("data_on_device", "data_memory_fraction"):
        del state["config"][key]
    state["config"]["amp"] = True
    for row in state["history"]:
        del row["precision"]
    torch.save(state, last)
    train(dataclasses.replace(cfg, epochs=2))
    assert pd.read_csv(cfg.output / "history.csv")["precision"].tolist() == ["fp32", "fp32"]


def _without_bn_statistics(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    statistics = ("running_mean", "running_var", "num_batches_tracked")
    return {k: v for k, v in state.items() if not k.endswith(statistics)}


def test_recomputed_batchnorm_statistics_change_validation_not_training(folders, tmp_path):
    """bn_stats_slices changes what eval mode sees (validation, the saved statistics) and
    nothing a training step computes: the same weights, losses and learned sigmas."""
    kept = config(folders, tmp_path / "kept", epochs=2)
    refreshed = config(folders, tmp_path / "refreshed", epochs=2, bn_stats_slices=12)
    train(kept)
    train(refreshed)
    history_kept = pd.read_csv(kept.output / "history.csv")
    history_refreshed = pd.read_csv(refreshed.output / "history.csv")
    training_columns = ["train_loss", "train_ce", "train_mad", "train_dice_loss", "sigma_ce"]
    pd.testing.assert_frame_equal(
        history_kept[training_columns], history_refreshed[training_columns]
    )
    assert not history_kept["val_mad"].equals(history_refreshed["val_mad"])
    last_kept = load(kept.ckpt_dir / "last.pt")
    last_refreshed = load(refreshed.ckpt_dir / "last.pt")
    torch.testing.assert_close(
        _without_bn_statistics(last_kept["model"]),
        _without_bn_statistics(last_refreshed["model"]),
        rtol=0,
        atol=0,
    )
    name = "segmentation.encoder.level1.0.1.running_mean"
    assert not torch.equal(last_kept["model"][name], last_refreshed["model"][name])


def test_sigma_ratios_divide_each_sigma_by_its_epochs_training_loss():
    row = {"sigma_ce": 0.05, "train_ce": 0.04, "sigma_mad": 12.0, "train_mad": 15.0}
    assert sigma_ratios(row, learned=True) == pytest.approx(
        {"sigma_ce_ratio": 1.25, "sigma_mad_ratio": 0.8}
    )
    fixed = sigma_ratios(row | {"sigma_ce": 1.0, "sigma_mad": 1.0}, learned=False)
    assert all(math.isnan(v) for v in fixed.values())
    base = sigma_ratios({"sigma_ce": 1.0, "train_ce": 0.1, "sigma_mad": math.nan,
                         "train_mad": math.nan}, learned=False)  # fmt: skip
    assert all(math.isnan(v) for v in base.values())


def test_a_learned_dmr_history_records_sigma_over_loss(folders, tmp_path):
    cfg = config(folders, tmp_path, epochs=2, sigma_lr_scale=10.0)
    train(cfg)
    history = pd.read_csv(cfg.output / "history.csv")
    assert list(history.columns) == list(HISTORY_COLUMNS)
    expected = history["sigma_mad"] / history["train_mad"]
    assert np.allclose(history["sigma_mad_ratio"], expected)
    assert np.allclose(history["sigma_ce_ratio"], history["sigma_ce"] / history["train_ce"])


def test_the_sigmas_learn_at_their_own_rate():
    model, loss = torch.nn.Linear(2, 2), build_loss("dmr", "learned")
    optimizer = build_optimizer(model, loss, 1e-3, sigma_lr_scale=10.0)
    assert [group["lr"] for group in optimizer.param_groups] == [1e-3, pytest.approx(1e-2)]
    assert len(build_optimizer(model, build_loss("ce"), 1e-3, 10.0).param_groups) == 1
