"""Whole-split ensembles: held-out test sets, the consensus-scored LVSC validation set and
cross-dataset scoring of the shared structure (the myocardium)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch

from dmr.cli import main
from dmr.datasets import read_dataset
from dmr.errors import InputError
from dmr.evaluation.evaluate_split import evaluate_split, keep_structures, shared_structures
from dmr.inference.postprocess import majority_vote
from dmr.inference.predict_split import predict_split
from dmr.io import write_image
from dmr.models import build_model
from dmr.train.checkpoint import save_checkpoint


def random_models(root: Path, label_values: list[int], n_folds: int = 3) -> Path:
    """A model folder with ``fold*/model.pt`` of seeded random U-Nets (different per fold)."""
    for fold in range(n_folds):
        torch.manual_seed(fold)
        network = build_model("unet", regularized=False, num_classes=len(label_values), width=4)
        save_checkpoint(
            root / f"fold{fold}" / "model.pt",
            {
                "kind": "model",
                "format_version": 1,
                "model_config": network.config.to_dict(),
                "state_dict": network.state_dict(),
                "preprocess": {"spacing": 4.0, "size": 32, "clip_percentile": 99.0},
                "structures": ["myo"] if len(label_values) == 2 else ["rv", "myo", "lv"],
                "label_values": label_values,
                "model_name": "unet-dmr",
                "dataset": "test",
                "fold": fold,
            },
        )
    return root


def references_as_predictions(fmt, root, split, out, references=None, frames="ed_es") -> Path:
    """Write each evaluated volume's own reference as its prediction (a perfect model)."""
    out.mkdir(parents=True)
    for case in read_dataset(fmt, root, split=split, references=references):
        numbers = (
            [(p, case.frame_of(p)) for p in ("ED", "ES")]
            if frames == "ed_es"
            else [(None, f) for f in case.labelled_frames]
        )
        for phase, frame in numbers:
            name = f"{case.case_id}_{phase}" if phase else f"{case.case_id}_frame{frame:02d}"
            write_image(out / f"{name}.nii.gz", case.load_frame(frame).label)
    return out


def test_ensemble_predicts_every_volume_of_the_split(acdc_root, lvsc_root, tmp_path):
    torch.set_num_threads(1)
    models = random_models(tmp_path / "acdc_models", [0, 1, 2, 3])
    n = predict_split(
        "acdc", acdc_root, split="testing", models=[models], output=tmp_path / "acdc_pred"
    )
    (case,) = read_dataset("acdc", acdc_root, split="testing")
    assert n == 2
    assert sorted(p.name for p in (tmp_path / "acdc_pred").iterdir()) == [
        f"{case.case_id}_ED.nii.gz",
        f"{case.case_id}_ES.nii.gz",
    ]
    # the written map is the per-pixel vote of the three fold models, on the case's grid
    labels = sitk.ReadImage(str(tmp_path / "acdc_pred" / f"{case.case_id}_ED.nii.gz"))
    assert labels.GetSize() == case.load_phase("ED").image.GetSize()

    lvsc_models = random_models(tmp_path / "lvsc_models", [0, 2])
    consensus = lvsc_root / "consensus"
    n = predict_split(
        "lvsc",
        lvsc_root,
        split="validation",
        references=consensus,
        frames="labelled",
        models=[lvsc_models],
        output=tmp_path / "lvsc_pred",
    )
    (study,) = read_dataset("lvsc", lvsc_root, split="validation", references=consensus)
    assert n == study.n_frames == len(list((tmp_path / "lvsc_pred").iterdir()))


def test_perfect_predictions_score_perfectly_with_roi_counts(lvsc_root, tmp_path):
    consensus = lvsc_root / "consensus"
    predictions = references_as_predictions(
        "lvsc", lvsc_root, "validation", tmp_path / "pred", consensus, frames="labelled"
    )
    result = evaluate_split(
        "lvsc",
        lvsc_root,
        split="validation",
        predictions=predictions,
        dataset="lvsc",
        model="unet-dmr",
        frames="labelled",
        references=consensus,
        roi_margin_mm=10.0,
    )
    assert set(result.metrics["phase"]) == {"ED", "ES"}  # ED/ES volumes in the metric table
    assert (result.metrics["dice"] == 1.0).all() and (result.metrics["hd_mm"] == 0.0).all()
    assert (result.metrics["fold"] == -1).all()
    slices = result.slices
    (study,) = read_dataset("lvsc", lvsc_root, split="validation", references=consensus)
    assert sorted(slices["frame"].unique()) == list(study.labelled_frames)  # every frame
    assert (slices["roi_fp"] == 0).all() and (slices["roi_fn"] == 0).all()
    with_myo = slices[slices["tp"] > 0]
    assert (with_myo["roi_tn"] > 0).all() and (with_myo["roi_tn"] < with_myo["tn"]).all()
    assert result.status["references"] is True and result.status["roi_margin_mm"] == 10.0
    assert set(result.clinical["quantity"]) == {"myo_mass_ed_g", "myo_mass_es_g"}


def test_cross_dataset_scores_only_the_shared_myocardium():
    assert shared_structures("acdc", "lvsc") == ("myo",)
    assert shared_structures("lvsc", "acdc") == ("myo",)
    assert shared_structures("acdc", "acdc") == ("rv", "myo", "lv")
    # hand-made maps: an ACDC-style prediction (RV, myo, LV) against an LVSC-style reference
    prediction = np.array([[[1, 2, 2, 3, 0]]], dtype=np.uint8)
    reference = np.array([[[0, 2, 0, 2, 2]]], dtype=np.uint8)
    image = sitk.GetImageFromArray(prediction)
    kept = sitk.GetArrayFromImage(keep_structures(image, ("myo",)))
    np.testing.assert_array_equal(kept, [[[0, 2, 2, 0, 0]]])
    # Dice of the myocardium: |{1}| overlap, 2 predicted, 3 in the reference -> 2/5
    pred_myo, ref_myo = kept == 2, reference == 2
    assert 2 * (pred_myo & ref_myo).sum() / (pred_myo.sum() + ref_myo.sum()) == pytest.approx(0.4)


def test_cross_dataset_metrics_table(acdc_root, tmp_path):
    predictions = references_as_predictions("acdc", acdc_root, "training", tmp_path / "pred")
    result = evaluate_split(
        "acdc",
        acdc_root,
        split="training",
        predictions=predictions,
        dataset="lvsc_to_acdc",
        model="unet-base",
        structures=shared_structures("lvsc", "acdc"),
    )
    assert set(result.metrics["structure"]) == {"myo"}
    assert set(result.metrics["dataset"]) == {"lvsc_to_acdc"}
    assert len(result.metrics) == 2 * len(read_dataset("acdc", acdc_root))
    assert (result.metrics["dice"] == 1.0).all()


def test_the_ensemble_vote_on_hand_made_maps():
    votes = [np.array([[0, 2, 2, 1]]), np.array([[2, 2, 0, 3]]), np.array([[2, 0, 0, 1]])]
    np.testing.assert_array_equal(majority_vote(votes), [[2, 2, 0, 1]])


def test_split_without_references_is_reported_not_faked(acdc_copy, tmp_path, capsys):
    for gt in (acdc_copy / "testing").rglob("*_gt.nii.gz"):
        gt.unlink()
    predictions = tmp_path / "pred"
    predictions.mkdir()
    out = tmp_path / "out"
    code = main(
        [
            "metrics-split",
            "--format",
            "acdc",
            str(acdc_copy),
            "--split",
            "testing",
            "--predictions",
            str(predictions),
            "--dataset",
            "acdc",
            "--model",
            "unet-dmr",
            "--slices",
            str(out / "slices.csv"),
            "--clinical",
            str(out / "clinical.csv"),
            "--status",
            str(out / "status.json"),
            "-o",
            str(out / "metrics.csv"),
        ]
    )
    assert code == 0
    assert "no reference labels" in capsys.readouterr().out
    status = json.loads((out / "status.json").read_text())
    assert status["references"] is False and status["n_cases"] == 1
    assert pd.read_csv(out / "metrics.csv").empty


def test_missing_predictions_are_listed(acdc_root, tmp_path):
    predictions = references_as_predictions("acdc", acdc_root, "testing", tmp_path / "pred")
    victim = sorted(predictions.iterdir())[0]
    victim.unlink()
    with pytest.raises(InputError, match=victim.name):
        evaluate_split(
            "acdc",
            acdc_root,
            split="testing",
            predictions=predictions,
            dataset="acdc",
            model="unet-dmr",
        )


def test_copying_the_split_keeps_raw_data_untouched(acdc_root, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in acdc_root.rglob("*") if p.is_file()}
    predictions = references_as_predictions("acdc", acdc_root, "testing", tmp_path / "pred")
    evaluate_split(
        "acdc",
        acdc_root,
        split="testing",
        predictions=predictions,
        dataset="acdc",
        model="unet-dmr",
    )
    assert before == {p: p.stat().st_mtime_ns for p in acdc_root.rglob("*") if p.is_file()}
    shutil.rmtree(predictions)


def test_scoring_does_not_import_torch() -> None:
    """Scoring (``dmr metrics``, ``metrics-split``, ``evaluate``) needs no network: a user scores
    predictions without torch, and each of the DAG's scoring jobs saves its ~1.5 s import."""
    code = (
        "import sys, dmr.evaluation.evaluate, dmr.evaluation.evaluate_split, dmr.datasets.frames;"
        " sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
