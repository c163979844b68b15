"""Checks the Snakefile runs on the workflow's config before it plans a single job.

Why here and not in Snakemake's ``validate``: its message prints the whole schema subtree and the
whole config (hundreds of lines for one typo). A user needs one line per problem, with the key's
path, a suggestion for a misspelt key and the file the key came from; and a dry run must already
catch a dataset folder that is not there, not the first job that reads it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dmr.settings import arch_overrides, training_settings

#: Where each dataset format's data can be obtained (said when a configured folder is missing).
WHERE_TO_GET: dict[str, str] = {
    "acdc": (
        "ACDC is public (https://www.creatis.insa-lyon.fr/Challenge/acdc/); "
        "`source: download` lets the workflow fetch it"
    ),
    "lvsc": (
        "LVSC is given out after a registration with the Cardiac Atlas Project "
        "(https://www.cardiacatlas.org/)"
    ),
}
_MAX_MESSAGE = 160


def _key_path(parts: Iterable[Any]) -> str:
    """``training.epochs``, ``models[0]``: the key as a user finds it in the YAML."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def _load(path: str | os.PathLike[str]) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return None


def _sets(document: Any, parts: Sequence[Any]) -> bool:
    """Whether a parsed config file sets the key at ``parts`` (or an item below it)."""
    node = document
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return True


def _source(parts: Sequence[Any], documents: Sequence[tuple[str, Any]]) -> str:
    """The last config file that sets the key (later files win), else every file read."""
    setting = [name for name, document in documents if _sets(document, parts)]
    if setting:
        return setting[-1]
    return ", ".join(name for name, _ in documents) or "--config"


def _describe(error: jsonschema.ValidationError) -> list[tuple[list[Any], str]]:
    """(key path, message) of one schema violation; unknown keys each get their own line."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = sorted(error.schema.get("properties", {}))
        lines = []
        for key in error.instance:
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(known)}"
            lines.append(([*path, key], f"unknown key{hint}"))
        if lines:
            return lines
    if error.validator == "not" and isinstance(error.validator_value, Mapping):
        forbidden = error.validator_value.get("required", [])
        if forbidden:
            return [([*path, key], "not allowed here") for key in forbidden]
    if error.context:
        return _describe(jsonschema.exceptions.best_match(error.context))
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return [(path, message)]


def config_errors(
    config: Mapping[str, Any],
    schema_path: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]] = (),
) -> list[str]:
    """One line per violation of the schema: ``key.path: problem (from FILE)``; [] when valid."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    documents = [(str(f), _load(f)) for f in files]  # read once, searched per error
    lines = []
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.path)))
    for error in errors:
        for parts, message in _describe(error):
            lines.append(f"{_key_path(parts)}: {message} (from {_source(parts, documents)})")
    return list(dict.fromkeys(lines))


def missing_dataset_folders(config: Mapping[str, Any]) -> list[str]:
    """The user-supplied dataset folders (``source: path`` and held-out ``references``) that do
    not exist, each with where its data come from; relative paths count from the working
    directory, as the jobs will read them."""
    problems = []
    for name, dataset in config.get("datasets", {}).items():
        where = WHERE_TO_GET.get(dataset.get("format", ""), "")
        folders = []
        if dataset.get("source") == "path":
            folders.append((f"datasets.{name}.path", dataset.get("path")))
        heldout = dataset.get("heldout") or {}
        if heldout.get("enabled") and heldout.get("references"):
            folders.append((f"datasets.{name}.heldout.references", heldout["references"]))
        for key, folder in folders:
            if folder and not Path(folder).is_dir():
                problems.append(
                    f"{key}: folder {folder} not found (from {Path.cwd()}); {where}, then point "
                    f"`{key.rpartition('.')[2]}` at the unpacked folder"
                )
    return problems


def augmented_copies_problems(config: Mapping[str, Any]) -> list[str]:
    """Trainings that ask for more augmented copies (``augmented_copies``, global < dataset <
    ``by_arch``) than their dataset's ``augment.copies`` writes, found before the augment job
    runs rather than by the first training that reads its output. ``config`` has the schema's
    defaults set."""
    problems = []
    for name, dataset in config.get("datasets", {}).items():
        written = int((dataset.get("augment") or {}).get("copies", 0))
        settings = {"every architecture": training_settings(config, name)} | {
            arch: training_settings(config, name, arch) for arch in arch_overrides(config, name)
        }
        for who, training in settings.items():
            asked = training.get("augmented_copies")
            if asked is not None and int(asked) > written:
                problems.append(
                    f"datasets.{name}: {who} trains on {asked} augmented copies "
                    f"(`augmented_copies`) but `augment.copies` writes {written}"
                )
    return list(dict.fromkeys(problems))
