"""The workflow's config checks without Snakemake: one line per problem, with its key path and
file; user dataset folders that are not there."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dmr.cli.workflow_config import (
    augmented_copies_problems,
    config_errors,
    missing_dataset_folders,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _test_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "test.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "test.yaml"])
def test_shipped_configs_are_valid(name: str) -> None:
    path = ROOT / "config" / name
    assert config_errors(yaml.safe_load(path.read_text()), SCHEMA, [path]) == []


def test_a_misspelt_key_is_named_with_its_path_suggestion_and_file(tmp_path: Path) -> None:
    config = _test_config()
    config["datasets"]["acdc"]["preprocess"]["sizee"] = 64
    config["training"]["batch_size"] = 0
    user = tmp_path / "mine.yaml"
    user.write_text(yaml.safe_dump(config))
    errors = config_errors(config, SCHEMA, [ROOT / "config" / "test.yaml", user])
    assert errors == [
        f"datasets.acdc.preprocess.sizee: unknown key; did you mean size? (from {user})",
        f"training.batch_size: 0 is less than the minimum of 1 (from {user})",
    ]


def test_list_items_are_indexed_and_long_messages_cut() -> None:
    config = _test_config()
    config["models"] = ["unet-base", "resnet-base"]
    (error,) = config_errors(config, SCHEMA)
    assert error.startswith("models[1]: 'resnet-base' does not match")
    assert len(error) < 220


def test_missing_user_folders_are_named_with_where_to_get_the_data(tmp_path: Path) -> None:
    config = _test_config()
    present = tmp_path / "acdc"
    present.mkdir()
    config["datasets"]["acdc"] |= {"source": "path", "path": str(present)}
    config["datasets"]["lvsc"] |= {"source": "path", "path": str(tmp_path / "nope")}
    config["datasets"]["lvsc"]["heldout"]["references"] = str(tmp_path / "consensus")
    problems = missing_dataset_folders(config)
    assert len(problems) == 2
    assert problems[0].startswith(f"datasets.lvsc.path: folder {tmp_path / 'nope'} not found")
    assert "cardiacatlas.org" in problems[0]
    assert problems[1].startswith("datasets.lvsc.heldout.references: folder")
    config["datasets"]["lvsc"]["source"] = "phantom"
    config["datasets"]["lvsc"]["heldout"]["enabled"] = False
    assert missing_dataset_folders(config) == []


def test_more_augmented_copies_than_written_are_named_per_architecture() -> None:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert augmented_copies_problems(config) == []
    config["datasets"]["lvsc"]["augment"]["copies"] = 1
    config["datasets"]["acdc"]["training"]["augmented_copies"] = 3  # by_arch segnet keeps 2
    assert augmented_copies_problems(config) == [
        "datasets.acdc: every architecture trains on 3 augmented copies (`augmented_copies`) "
        "but `augment.copies` writes 2",
        "datasets.lvsc: segnet trains on 2 augmented copies (`augmented_copies`) but "
        "`augment.copies` writes 1",
    ]
