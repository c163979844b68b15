"""User-facing errors: the CLI prints their message (which names the file and the problem) and
exits non-zero, without a traceback."""

from __future__ import annotations


class DmrError(Exception):
    """Base class of every error caused by a user's input rather than by a bug."""


class DatasetError(DmrError):
    """A raw dataset folder or file cannot be used (missing, unreadable, inconsistent)."""


class InputError(DmrError):
    """A file given on the command line cannot be used (wrong kind, shape, geometry, labels)."""
