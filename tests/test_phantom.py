"""Synthetic cine-MR phantoms: on-disk layout of both formats, determinism, geometry, physiology."""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from dmr.datasets.phantom import ACDC_GROUPS, generate_dataset, resolve_domain
from dmr.datasets.phantom_anatomy import contraction
from dmr.labels import LV_CAVITY, LV_MYOCARDIUM, RV_CAVITY

#: Coarse but whole-heart domain: a few frames, 40x40 pixels of 3.6-4 mm.
TINY = {
    "spacing_mm": [3.6, 4.0],
    "matrix_x": [40, 40],
    "matrix_y": [40, 40],
    "n_slices": [4, 5],
    "n_frames": [4, 5],
}


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _read_info(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines)


@pytest.fixture(scope="module")
def acdc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("phantom") / "acdc"
    generate_dataset("acdc", root, n_cases=5, n_testing=1, seed=3, domain=TINY)
    return root


@pytest.fixture(scope="module")
def lvsc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("phantom") / "lvsc"
    generate_dataset("lvsc", root, n_cases=3, n_testing=1, seed=3, domain=TINY)
    return root


@pytest.mark.parametrize("fmt", ["acdc", "lvsc"])
def test_same_seed_gives_identical_files_and_other_seed_differs(fmt: str, tmp_path: Path) -> None:
    generate_dataset(fmt, tmp_path / "a", n_cases=2, n_testing=1, seed=7, domain=TINY)
    generate_dataset(fmt, tmp_path / "b", n_cases=2, n_testing=1, seed=7, domain=TINY)
    generate_dataset(fmt, tmp_path / "c", n_cases=2, n_testing=1, seed=8, domain=TINY)
    files = _tree(tmp_path / "a")
    assert files == _tree(tmp_path / "b")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert mismatch == [] and errors == []
    images = [f for f in files if f.endswith((".nii.gz", ".dcm"))]
    same = filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", images, shallow=False)[0]
    assert len(same) < len(images) / 2
    # Nothing but the finished folder is left behind (atomic write).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]


def test_acdc_layout_info_and_labels(acdc: Path) -> None:
    assert (acdc / "MANDATORY_CITATION.md").is_file()
    training = sorted(p.name for p in (acdc / "training").iterdir())
    assert training == [f"patient{i:03d}" for i in range(1, 6)]
    assert sorted(p.name for p in (acdc / "testing").iterdir()) == ["patient006"]
    groups = []
    for folder in sorted((acdc / "training").iterdir()):
        info = _read_info(folder / "Info.cfg")
        assert list(info) == ["ED", "ES", "Group", "Height", "NbFrame", "Weight"]
        assert re.fullmatch(r"\d+\.\d", info["Height"]) and re.fullmatch(r"\d+\.\d", info["Weight"])
        groups.append(info["Group"])
        ed, es, n_frames = int(info["ED"]), int(info["ES"]), int(info["NbFrame"])
        assert ed == 1 and 1 < es <= n_frames
        name = folder.name
        expected = {"Info.cfg", f"{name}_4d.nii.gz"} | {
            f"{name}_frame{f:02d}{gt}.nii.gz" for f in (ed, es) for gt in ("", "_gt")
        }
        assert {p.name for p in folder.iterdir()} == expected
        cine = sitk.ReadImage(str(folder / f"{name}_4d.nii.gz"))
        assert cine.GetDimension() == 4 and cine.GetSize()[3] == n_frames
        cine_array = sitk.GetArrayFromImage(cine)  # (t, z, y, x)
        for frame in (ed, es):
            image = sitk.ReadImage(str(folder / f"{name}_frame{frame:02d}.nii.gz"))
            label = sitk.ReadImage(str(folder / f"{name}_frame{frame:02d}_gt.nii.gz"))
            assert image.GetSize() == cine.GetSize()[:3] == label.GetSize()
            assert image.GetSpacing() == pytest.approx(cine.GetSpacing()[:3])
            assert label.GetSpacing() == pytest.approx(image.GetSpacing())
            assert np.array_equal(sitk.GetArrayFromImage(image), cine_array[frame - 1])
            assert image.GetPixelID() in (sitk.sitkInt16, sitk.sitkFloat32)
            assert label.GetPixelID() == sitk.sitkUInt8
            values = set(np.unique(sitk.GetArrayFromImage(label)).tolist())
            assert values == {0, 1, 2, 3}
    assert groups == list(ACDC_GROUPS)  # round-robin: equal numbers per group
    # The testing split ships Group and references, as the current public release does.
    testing = acdc / "testing" / "patient006"
    info = _read_info(testing / "Info.cfg")
    assert info["Group"] in ACDC_GROUPS
    assert {p.name for p in testing.glob("*_gt.nii.gz")} == {
        f"patient006_frame{f:02d}_gt.nii.gz" for f in (1, int(info["ES"]))
    }


def test_acdc_label_geometry_matches_the_image(acdc: Path) -> None:
    """Bright blood under the cavity labels, dark myocardium under label 2 (same grid)."""
    folder = acdc / "training" / "patient001"
    image = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "patient001_frame01.nii.gz")))
    label = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "patient001_frame01_gt.nii.gz")))
    assert image[label == LV_CAVITY].mean() > 2.0 * image[label == LV_MYOCARDIUM].mean()


def test_acdc_physiology_orders_ejection_fractions(tmp_path: Path) -> None:
    domain = {"spacing_mm": [2.0, 2.0], "matrix_x": [80, 80], "matrix_y": [80, 80]}
    domain |= {"n_frames": [10, 10], "slice_thickness_mm": [8.0, 8.0]}
    generate_dataset("acdc", tmp_path / "acdc", n_cases=5, seed=1, domain=domain)
    ejection, wall_voxels = {}, {}
    for folder in sorted((tmp_path / "acdc" / "training").iterdir()):
        info = _read_info(folder / "Info.cfg")
        volumes = []
        for frame in (int(info["ED"]), int(info["ES"])):
            gt = sitk.ReadImage(str(folder / f"{folder.name}_frame{frame:02d}_gt.nii.gz"))
            volumes.append(int((sitk.GetArrayFromImage(gt) == LV_CAVITY).sum()))
        ejection[info["Group"]] = 1.0 - volumes[1] / volumes[0]
        gt_ed = folder / f"{folder.name}_frame01_gt.nii.gz"
        ed = sitk.GetArrayFromImage(sitk.ReadImage(str(gt_ed)))
        wall_voxels[info["Group"]] = (ed == LV_MYOCARDIUM).sum() / volumes[0]
        # Base slice cut first, empty slice(s) past the apex, RV stops short of the LV apex.
        has_lv = ed.reshape(ed.shape[0], -1).max(axis=1) > 0
        assert has_lv[0] and not has_lv[-1]
        apical = np.flatnonzero(has_lv)[-1]
        assert (ed[apical] == LV_MYOCARDIUM).any() and not (ed[apical] == RV_CAVITY).any()
    assert ejection["DCM"] < ejection["MINF"] < ejection["NOR"] < ejection["HCM"]
    assert ejection["DCM"] < 0.35 and 0.5 < ejection["NOR"] < 0.72 and ejection["HCM"] > 0.62
    # Myocardium relative to the cavity: thick in HCM, thin in DCM.
    assert wall_voxels["HCM"] > wall_voxels["NOR"] > wall_voxels["DCM"]


def test_contraction_curve_is_smooth_with_ed_at_zero_and_es_at_one() -> None:
    phases = np.linspace(0.0, 1.0, 401)
    curve = np.array([contraction(p, 0.4) for p in phases])
    assert curve[0] == pytest.approx(0.0) and contraction(0.4, 0.4) == pytest.approx(1.0)
    assert curve.argmax() == pytest.approx(160, abs=1)
    assert np.abs(np.diff(curve)).max() < 0.03  # no jumps
    assert curve[-1] == pytest.approx(0.0, abs=1e-6)


def _lvsc_files(study: Path) -> dict[tuple[int, int], Path]:
    files = {}
    for path in study.glob("*.dcm"):
        match = re.fullmatch(rf"{study.name}_SA(\d+)_ph(\d+)\.dcm", path.name)
        assert match, path.name
        files[int(match[1]), int(match[2])] = path
    return files


def test_lvsc_layout_tags_geometry_and_masks(lvsc: Path) -> None:
    studies = sorted(p.name for p in lvsc.iterdir() if p.name.startswith("DET"))
    assert studies == ["DET0000101", "DET0000102", "DET0000103"]
    assert [p.name for p in (lvsc / "validation").iterdir()] == ["DET0000104"]
    # validation images without masks; the masks (the consensus stand-in) in consensus/
    assert not list((lvsc / "validation").rglob("*.png"))
    dicoms = {p.stem for p in (lvsc / "validation" / "DET0000104").glob("*.dcm")}
    assert {p.stem for p in (lvsc / "consensus" / "DET0000104").glob("*.png")} == dicoms
    for name in studies:
        files = _lvsc_files(lvsc / name)
        slices = sorted({s for s, _ in files})
        phases = sorted({p for _, p in files})
        assert slices == list(range(1, len(slices) + 1)) and phases[0] == 0
        assert len(files) == len(slices) * len(phases)
        normals, along = [], {}
        for (sa, _phase), path in files.items():
            mask = np.asarray(Image.open(path.with_suffix(".png")))
            assert mask.dtype == np.uint8 and set(np.unique(mask).tolist()) <= {0, 255}
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(path))
            image = reader.Execute()
            assert image.GetPixelID() in (sitk.sitkInt16, sitk.sitkUInt16)
            assert mask.shape == image.GetSize()[1::-1]
            for tag in ("0010|0020", "0020|000d", "0020|000e", "0008|0018", "0020|0013"):
                assert reader.GetMetaData(tag).strip()
            assert reader.GetMetaData("0008|0060").strip() == "MR"
            assert reader.GetMetaData("0010|0020").strip() == name
            orientation = [float(v) for v in reader.GetMetaData("0020|0037").split("\\")]
            row, col = np.array(orientation[:3]), np.array(orientation[3:])
            assert np.count_nonzero(np.abs(row) > 1e-3) > 1  # oblique, not axis-aligned
            normal = np.cross(row, col)
            normals.append(normal)
            position = np.array([float(v) for v in reader.GetMetaData("0020|0032").split("\\")])
            along.setdefault(sa, set()).add(round(float(position @ normal), 3))
            location = float(reader.GetMetaData("0020|1041"))
            assert location == pytest.approx(position @ normal, abs=1e-3)
            spacing = [float(v) for v in reader.GetMetaData("0028|0030").split("\\")]
            assert 0.7 <= min(spacing) and float(reader.GetMetaData("0018|0050")) > 0
        assert np.allclose(normals, normals[0], atol=1e-4)
        # Every slice keeps its position over the cycle; positions step evenly along the normal.
        assert all(len(v) == 1 for v in along.values())
        steps = np.diff(sorted(next(iter(v)) for v in along.values()))
        assert np.allclose(steps, steps[0], rtol=1e-3) and steps[0] > 0
        assert any(np.any(np.asarray(Image.open(p.with_suffix(".png")))) for p in files.values())


def test_lvsc_slice_numbering_is_not_always_spatial(tmp_path: Path) -> None:
    generate_dataset("lvsc", tmp_path / "lvsc", n_cases=8, seed=0, domain=TINY)
    spatial = []
    for study in sorted(p for p in (tmp_path / "lvsc").iterdir()):
        positions = {}
        for (sa, phase), path in _lvsc_files(study).items():
            if phase == 0:
                reader = sitk.ImageFileReader()
                reader.SetFileName(str(path))
                reader.ReadImageInformation()
                positions[sa] = float(reader.GetMetaData("0020|1041"))
        by_index = [positions[s] for s in sorted(positions)]
        spatial.append(bool(np.all(np.diff(by_index) > 0)))
    # Some studies number SA1.. in spatial order, others apex-to-base or shuffled.
    assert any(spatial) and not all(spatial)


def test_unknown_domain_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'n_frame'.*valid keys:.*n_frames"):
        generate_dataset("acdc", tmp_path / "x", n_cases=1, domain={"n_frame": [2, 3]})
    with pytest.raises(ValueError, match="n_frames"):
        resolve_domain("lvsc", {"n_frames": [5, 2]})
    assert not (tmp_path / "x").exists()


def test_formats_are_different_scanner_domains() -> None:
    acdc, lvsc = resolve_domain("acdc"), resolve_domain("lvsc")
    for key in ("spacing_mm", "intensity_scale", "noise", "bias_strength", "gamma"):
        assert acdc[key] != lvsc[key], key
    assert resolve_domain("acdc", {"n_frames": [3, 4]})["n_frames"] == [3, 4]
