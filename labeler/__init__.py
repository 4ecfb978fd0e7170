"""radlabel inference core: label schema, GLS math, rule and model labelers.

This package never imports a web framework or torch; the service and the distillation
recipe depend on it, not the other way round.
"""

from __future__ import annotations

from labeler.errors import (
    InferenceError,
    InputTooLong,
    InvalidInput,
    LabelerError,
    ModelLoadError,
    Overloaded,
    SchemaMismatch,
)
from labeler.records import Evidence, FindingLabel, ReportLabels
from labeler.schema import Schema, load_schema

__all__ = [
    "Evidence",
    "FindingLabel",
    "InferenceError",
    "InputTooLong",
    "InvalidInput",
    "LabelerError",
    "ModelLoadError",
    "Overloaded",
    "ReportLabels",
    "Schema",
    "SchemaMismatch",
    "load_schema",
]

__version__ = "0.1.0"
