"""The layering of training settings that the Snakefile, the config check and the report share."""

from __future__ import annotations

from dmr.settings import arch_overrides, training_settings

CONFIG = {
    "training": {"epochs": 10, "width": 8, "lr": 1e-3, "batch_size": 4},
    "datasets": {
        "acdc": {
            "training": {
                "epochs": 16,
                "by_arch": {"segnet": {"epochs": 32, "lr": 2e-3}, "unet": None},
            }
        },
        "lvsc": {},
    },
}


def test_later_layers_win_in_the_documented_order() -> None:
    variant = {"lr": 5e-3, "width": 12, "loss": "dmr"}
    segnet = training_settings(CONFIG, "acdc", "segnet", variant=variant)
    # global < variant < dataset < by_arch
    assert segnet == {"epochs": 32, "width": 12, "lr": 2e-3, "batch_size": 4, "loss": "dmr"}
    usegnet = training_settings(CONFIG, "acdc", "usegnet", variant=variant)
    assert usegnet == {"epochs": 16, "width": 12, "lr": 5e-3, "batch_size": 4, "loss": "dmr"}


def test_the_dataset_level_has_no_by_arch_key_and_a_dataset_without_training_is_global() -> None:
    assert training_settings(CONFIG, "acdc") == {
        "epochs": 16,
        "width": 8,
        "lr": 1e-3,
        "batch_size": 4,
    }
    assert training_settings(CONFIG, "lvsc", "segnet") == CONFIG["training"]


def test_arch_overrides_lists_every_architecture_and_reads_an_empty_entry_as_none() -> None:
    assert arch_overrides(CONFIG, "acdc") == {"segnet": {"epochs": 32, "lr": 2e-3}, "unet": {}}
    assert arch_overrides(CONFIG, "lvsc") == {}


def test_the_callers_config_is_not_modified() -> None:
    before = repr(CONFIG)
    training_settings(CONFIG, "acdc", "segnet", variant={"lr": 1.0})
    assert repr(CONFIG) == before
