"""Errors shared by every data loader (kept apart so loaders of different papers need not import each other)."""

from __future__ import annotations


class DatasetLayoutError(ValueError):
    """A data folder that does not have the expected layout; the message says what was expected and what was found."""
