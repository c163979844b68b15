"""The one predictor: geometry round trip, label mapping, ensembles, CLI errors, predict-cv."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import torch
from test_data import make_preprocessed

import dmr.datasets
from dmr.cli import main
from dmr.datasets import Case, Frame
from dmr.errors import InputError
from dmr.inference.bundle import load_models
from dmr.inference.cross_validation import predict_cross_validation
from dmr.inference.predict import Predictor
from dmr.models import build_model
from dmr.train import TrainConfig, train
from dmr.train.checkpoint import save_checkpoint
from dmr.train.precision import resolve_precision

PREPROCESS = {"spacing": 1.5, "size": 32, "clip_percentile": 99.0}
# A rotated, anisotropic, shifted grid, so a lost geometry cannot go unnoticed.
DIRECTION = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def synthetic_image(size=(50, 44, 3), spacing=(1.5, 1.5, 8.0), seed=0) -> sitk.Image:
    rng = np.random.default_rng(seed)
    _, y, x = np.mgrid[: size[2], : size[1], : size[0]]
    disc = np.hypot(y - size[1] / 2, x - size[0] / 2) < 8
    array = (100 * disc + rng.normal(20, 5, size=disc.shape)).astype(np.float32)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin((12.0, -30.5, 4.0))
    image.SetDirection(DIRECTION)
    return image


def constant_bundle(path: Path, predicted_class: int, label_values: list[int]) -> Path:
    """A model.pt (docs/formats.md) whose network predicts ``predicted_class`` everywhere."""
    network = build_model("unet", regularized=False, num_classes=len(label_values), width=4)
    with torch.no_grad():
        network.decoder.classifier.weight.zero_()
        network.decoder.classifier.bias.zero_()
        network.decoder.classifier.bias[predicted_class] = 10.0
    common = {
        "format_version": 1,
        "model_config": network.config.to_dict(),
        "state_dict": network.state_dict(),
        "preprocess": PREPROCESS,
        "structures": ["myo"] if len(label_values) == 2 else ["rv", "myo", "lv"],
        "label_values": label_values,
        "model_name": "unet-base",
        "dataset": "test",
        "fold": 0,
        "best_epoch": 1,
        "best_val_dice": 0.5,
    }
    save_checkpoint(path / "model.pt", common | {"kind": "model"})
    save_checkpoint(path / "checkpoint.pt", common | {"kind": "checkpoint", "loss_state": {}})
    return path / "model.pt"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A dmr model folder with fold0/ and fold1/, one epoch each, plus the data it came from."""
    root = tmp_path_factory.mktemp("predict")
    folders = make_preprocessed(root)
    for fold in (0, 1):
        train(
            TrainConfig(
                preprocessed=folders["preprocessed"],
                augmented=None,
                folds=folders["folds"],
                fold=fold,
                arch="unet",
                model_name="unet-dmr",
                loss="dmr",
                weighting="learned",
                threshold=20.0,
                width=4,
                epochs=1,
                batch_size=16,
                lr=3e-3,
                lr_decay=0.99,
                seed=fold,
                device="cpu",
                threads=1,
                amp=False,
                ckpt_dir=root / "ckpt" / f"fold{fold}",
                output=root / "models" / f"fold{fold}",
            )
        )
    return folders | {"models": root / "models"}


def test_round_trip_keeps_the_original_geometry(trained):
    image = synthetic_image()
    predictor = Predictor(load_models([trained["models"] / "fold0"]))
    labels = predictor.predict_volume(image)
    assert labels.GetSize() == image.GetSize()
    assert labels.GetSpacing() == pytest.approx(image.GetSpacing())
    assert labels.GetOrigin() == pytest.approx(image.GetOrigin())
    assert labels.GetDirection() == pytest.approx(image.GetDirection())
    assert labels.GetPixelID() == sitk.sitkUInt8
    assert set(np.unique(sitk.GetArrayFromImage(labels))) <= {0, 1, 2, 3}


def test_lvsc_classes_map_to_global_labels_within_the_network_field_of_view(tmp_path):
    model = constant_bundle(tmp_path, predicted_class=1, label_values=[0, 2])
    labels = sitk.GetArrayFromImage(
        Predictor(load_models([model])).predict_volume(synthetic_image())
    )
    # class 1 of a myocardium-only model is label 2; the 32 x 32 network grid (same spacing)
    # is centred on the 50 x 44 image and everything outside it comes back as background
    assert set(np.unique(labels)) == {0, 2}
    expected = np.zeros_like(labels)
    expected[:, 6:38, 9:41] = 2
    np.testing.assert_array_equal(labels, expected)


def test_ensemble_majority_vote_and_folder_expansion(tmp_path):
    for fold, predicted in enumerate((3, 3, 1)):
        constant_bundle(tmp_path / "m" / f"fold{fold}", predicted, [0, 1, 2, 3])
    models = load_models([tmp_path / "m"])
    assert [m.path.parent.name for m in models] == ["fold0", "fold1", "fold2"]
    labels = sitk.GetArrayFromImage(Predictor(models).predict_volume(synthetic_image()))
    assert set(np.unique(labels)) == {0, 3}
    # a 1 : 1 tie between RV (1) and LV (3): the lower label wins
    tie = Predictor(load_models([tmp_path / "m" / "fold1", tmp_path / "m" / "fold2"]))
    assert set(np.unique(sitk.GetArrayFromImage(tie.predict_volume(synthetic_image())))) == {0, 1}


def test_incompatible_ensemble_is_refused(tmp_path):
    first = constant_bundle(tmp_path / "a", 1, [0, 1, 2, 3])
    second = constant_bundle(tmp_path / "b", 1, [0, 1, 2, 3])
    bundle = torch.load(second, weights_only=True)
    bundle["preprocess"] = PREPROCESS | {"size": 64}
    save_checkpoint(second, bundle)
    with pytest.raises(InputError, match="differs"):
        load_models([first, second])


def _write(image: sitk.Image, path: Path) -> Path:
    sitk.WriteImage(image, str(path))
    return path


def test_cli_predict_writes_labels_and_reports_bad_inputs(trained, tmp_path, capsys):
    model = str(trained["models"])
    good = _write(synthetic_image(), tmp_path / "image.nii.gz")
    out = tmp_path / "out" / "labels.nii.gz"
    assert main(["predict", "--model", model, str(good), "-o", str(out)]) == 0
    assert sitk.ReadImage(str(out)).GetSize() == (50, 44, 3)

    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"not an image at all")
    bad_model = tmp_path / "bad.pt"
    bad_model.write_bytes(np.random.default_rng(0).bytes(256))
    odd_precision = tmp_path / "odd_precision.pt"
    bundle = torch.load(trained["models"] / "fold0" / "model.pt", weights_only=True)
    torch.save(bundle | {"precision": "int8"}, odd_precision)
    cine = sitk.JoinSeries([synthetic_image(), synthetic_image(seed=1)])
    flat = sitk.GetImageFromArray(np.ones((8, 8), np.float32))
    cases = [
        (["--model", str(tmp_path / "missing")], good, "missing", "not found"),
        (["--model", str(bad_model)], good, "bad.pt", "not a dmr model"),
        (["--model", str(odd_precision)], good, "odd_precision.pt", "unknown training precision"),
        (
            ["--model", str(trained["models"] / "fold0" / "checkpoint.pt")],
            good,
            "checkpoint.pt",
            "training checkpoint",
        ),
        (["--model", model], _write(cine, tmp_path / "cine.nii.gz"), "cine.nii.gz", "one frame"),
        (["--model", model], _write(flat, tmp_path / "flat.nii.gz"), "flat.nii.gz", "2-D"),
        (["--model", model], junk, "junk.nii.gz", "cannot read"),
        (["--model", model], tmp_path / "absent.nii.gz", "absent.nii.gz", "not found"),
    ]
    for options, image, named, problem in cases:
        capsys.readouterr()
        status = main(["predict", *options, str(image), "-o", str(tmp_path / "x.nii.gz")])
        err = capsys.readouterr().err
        assert status == 1, (options, image)
        assert named in err and problem in err, err
    assert not (tmp_path / "x.nii.gz").exists()


def _fake_dataset(case_ids: list[str]):
    def read(fmt: str, root: Path, split: str = "training", **options: object) -> list[Case]:
        images = {1: synthetic_image(seed=1), 2: synthetic_image(seed=2)}
        return [
            Case(
                case_id=c,
                dataset_format=fmt,
                group="NOR",
                ed_frame=1,
                es_frame=2,
                n_frames=2,
                labelled_frames=(1, 2),
                path=Path(root) / c,
                loader=lambda frame: Frame(frame, images[frame], None),
            )
            for c in case_ids
        ]

    return read


def test_predict_cross_validation_writes_every_test_volume_and_timings(
    trained, tmp_path, monkeypatch
):
    monkeypatch.setattr(dmr.datasets, "read_dataset", _fake_dataset([f"p{i}" for i in range(6)]))
    output = tmp_path / "predictions"
    predict_cross_validation(
        "acdc",
        tmp_path / "raw",
        folds_csv=trained["folds"],
        models_dir=trained["models"],
        phases=["ED", "ES"],
        output=output,
        timing_csv=output / "timing.csv",
        device="cpu",
    )
    # fold 0 tests p5, fold 1 tests p0 (tests/test_data.py)
    written = sorted(p.name for p in output.glob("*.nii.gz"))
    assert written == ["p0_ED.nii.gz", "p0_ES.nii.gz", "p5_ED.nii.gz", "p5_ES.nii.gz"]
    assert sitk.ReadImage(str(output / "p5_ES.nii.gz")).GetSize() == (50, 44, 3)
    timing = pd.read_csv(output / "timing.csv")
    assert list(timing.columns) == [
        "dataset", "model", "fold", "case", "phase", "n_slices", "ms_plain", "ms_regularized",
        "device", "precision",
    ]  # fmt: skip
    assert timing[["fold", "case"]].drop_duplicates().values.tolist() == [[0, "p5"], [1, "p0"]]
    assert (timing["n_slices"] == 3).all() and (timing["model"] == "unet-dmr").all()
    assert (timing["ms_plain"] > 0).all() and (timing["ms_regularized"] > 0).all()
    assert (timing["device"] == "cpu").all()
    assert (timing["precision"] == resolve_precision(torch.device("cpu"), "auto").name).all()


def test_predict_cross_validation_base_model_and_missing_fold(tmp_path, monkeypatch):
    folders = make_preprocessed(tmp_path / "data")
    monkeypatch.setattr(dmr.datasets, "read_dataset", _fake_dataset([f"p{i}" for i in range(6)]))
    constant_bundle(tmp_path / "base" / "fold0", 1, [0, 1, 2, 3])
    arguments = {
        "folds_csv": folders["folds"],
        "models_dir": tmp_path / "base",
        "phases": ["ED"],
        "output": tmp_path / "pred",
        "timing_csv": tmp_path / "timing.csv",
        "device": "cpu",
    }
    with pytest.raises(InputError, match=r"fold1[/\\]model\.pt"):
        predict_cross_validation("acdc", tmp_path / "raw", **arguments)
    assert not (tmp_path / "pred").exists()
    constant_bundle(tmp_path / "base" / "fold1", 1, [0, 1, 2, 3])
    predict_cross_validation("acdc", tmp_path / "raw", **arguments, amp="true")
    timing = pd.read_csv(tmp_path / "timing.csv")
    assert len(timing) == 2 and timing["ms_regularized"].map(math.isnan).all()
    assert (timing["precision"] == "bf16").all()  # inference follows training.amp


def _corrupt_model_files(folder: Path) -> dict[str, Path]:
    """Random bytes (a pickle-protocol-4 start, which PyTorch warns about), text, a truncated
    model.pt: none of them is a model, and PyTorch's message for each is ten lines of advice."""
    folder.mkdir(parents=True, exist_ok=True)
    real = constant_bundle(folder / "real", 1, [0, 1, 2, 3]).read_bytes()
    files = {
        "random.pt": b"\x80\x04" + np.random.default_rng(0).bytes(254),
        "text.pt": b"hello, this is a text file\nnot a model\n",
        "truncated.pt": real[: len(real) // 2],
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return {name: folder / name for name in files}


@pytest.mark.parametrize("output", ["seg.png", "out_noext", "seg.jpg", "seg.mhd", ".nii.gz"])
def test_cli_predict_refuses_an_unwritable_output_name_before_any_work(
    tmp_path, capsys, monkeypatch, output
):
    """A 2-D format kept slice 0 only (exit 0); no suffix failed in SimpleITK after inference."""
    import dmr.inference.predict as predict

    def no_work(*args, **kwargs):
        raise AssertionError("work done before the output name was checked")

    monkeypatch.setattr(predict, "load_models", no_work)
    monkeypatch.setattr(predict, "read_volume", no_work)
    model = constant_bundle(tmp_path / "model", 1, [0, 1, 2, 3])
    image = _write(synthetic_image(), tmp_path / "image.nii.gz")
    out = tmp_path / "out"
    out.mkdir()
    before = sorted(tmp_path.rglob("*"))
    status = main(["predict", "--model", str(model), str(image), "-o", str(out / output)])
    err = capsys.readouterr().err
    assert status == 1
    (line,) = [x for x in err.splitlines() if x.startswith("dmr predict: error:")]
    assert f"{out / output}: cannot write a 3-D label map" in line
    assert ".nii.gz, .nii, .nrrd, .mha" in line
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, not even a temporary file
    # a model that does not exist is not even looked for
    missing = tmp_path / "no-such-model.pt"
    assert main(["predict", "--model", str(missing), str(image), "-o", str(out / output)]) == 1
    assert "cannot write a 3-D label map" in capsys.readouterr().err


def test_predict_file_checks_the_output_name_first(tmp_path):
    from dmr.inference.predict import LABEL_MAP_SUFFIXES, predict_file

    with pytest.raises(InputError, match=r"seg\.png: cannot write .*\.nii\.gz"):
        predict_file([tmp_path / "absent.pt"], tmp_path / "absent.nii.gz", tmp_path / "seg.png")
    (tmp_path / "folder.nii.gz").mkdir()
    with pytest.raises(InputError, match=r"folder\.nii\.gz: is a folder"):
        predict_file(
            [tmp_path / "absent.pt"], tmp_path / "absent.nii.gz", tmp_path / "folder.nii.gz"
        )
    for suffix in LABEL_MAP_SUFFIXES:  # an accepted name goes on to the model (missing here)
        with pytest.raises(InputError, match=r"absent\.pt: model not found"):
            predict_file([tmp_path / "absent.pt"], tmp_path / "x.nii.gz", tmp_path / f"y{suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.nii.gz"]


@pytest.mark.parametrize("name", ["random.pt", "text.pt", "truncated.pt"])
def test_cli_predict_names_a_corrupt_model_file_in_one_line(tmp_path, capsys, name):
    model = _corrupt_model_files(tmp_path / "models")[name]
    image = _write(synthetic_image(), tmp_path / "image.nii.gz")
    out = tmp_path / "out" / "labels.nii.gz"
    status = main(["predict", "--model", str(model), str(image), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 1
    (line,) = [x for x in err.splitlines() if x.startswith("dmr predict: error:")]
    assert f"{model}: not a dmr model file (corrupt or not a checkpoint" in line
    assert "weights_only" not in err and "Traceback" not in err
    assert len(line) < 200, line
    assert not out.parent.exists()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("random.pt", "not a PyTorch zip archive"),
        ("text.pt", "not a PyTorch zip archive"),
        ("truncated.pt", "truncated or damaged archive"),
    ],
)
def test_load_models_gives_the_reason_of_a_corrupt_model_in_a_clause(tmp_path, name, reason):
    model = _corrupt_model_files(tmp_path)[name]
    with pytest.raises(InputError) as caught:
        load_models([model])
    assert str(caught.value) == (
        f"{model}: not a dmr model file (corrupt or not a checkpoint: {reason})"
    )
