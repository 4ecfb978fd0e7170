"""Typed errors of the inference core.

Callers (CLI, HTTP service) must tell a bad report from a broken model, so every failure the
core can raise is one of these classes; the web layer maps them to status codes in one place.
"""

from __future__ import annotations


class LabelerError(Exception):
    """Base class of every error the labeler raises on purpose."""


class InvalidInput(LabelerError):
    """The input (a report, a file line, a parameter) is malformed."""


class InputTooLong(InvalidInput):
    """A report exceeds the configured character limit."""


class SchemaMismatch(LabelerError):
    """A model bundle or label file names a schema other than the one loaded."""


class ModelLoadError(LabelerError):
    """A model bundle is missing, incomplete or unreadable."""


class InferenceError(LabelerError):
    """The inference backend failed on an input it accepted."""


class Overloaded(LabelerError):
    """The labeler refuses work because its queue is full."""
