"""The auto/true/false switches of the config and the CLI (``amp``, ``data_on_device``).

Kept apart from the modules that use them so that the command line can offer the choices
without importing torch.
"""

from __future__ import annotations

from dmr.errors import DmrError

SWITCH_CHOICES: tuple[str, ...] = ("auto", "true", "false")


def parse_switch(value: str | bool, name: str) -> str:
    """``auto``, ``true`` or ``false`` from a config value or option (YAML booleans allowed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    if text not in SWITCH_CHOICES:
        raise DmrError(f"{name} must be one of {', '.join(SWITCH_CHOICES)}; got {value!r}")
    return text
