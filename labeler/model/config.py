"""`labeler_config.json`: what a model bundle says about itself.

A bundle names its schema version, finding order, max length, smoothing constants, files
and provenance; the labeler checks it at load time and refuses a schema mismatch, so a model
trained on one label contract can never be served under another.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labeler.errors import ModelLoadError
from labeler.rules.vocab import SectionVocab
from labeler.schema import Schema, Smoothing

CONFIG_NAME = "labeler_config.json"
FORMAT_VERSION = 1


class BundleFiles(BaseModel):
    """Model files of the bundle, relative to its directory."""

    model_config = ConfigDict(extra="forbid")

    tokenizer: str = "tokenizer.json"
    fp32: str = "model.onnx"
    int8: str | None = None
    fp16: str | None = None


class LabelerConfig(BaseModel):
    """The self-description of a model bundle."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    schema_version: str
    findings: list[str]
    n_classes: int = 8
    max_length: int = Field(ge=8)
    smoothing: Smoothing
    files: BundleFiles = Field(default_factory=BundleFiles)
    architecture: str | None = Field(
        default=None, description="the encoder's model type (deberta-v2, bert, roberta, electra, ...)"
    )
    special_tokens: dict[str, str] = Field(default_factory=dict)
    sections: SectionVocab | None = Field(
        default=None,
        description="the section headers the model was trained with (what it reads); the packaged "
        "ones for bundles that predate this field",
    )
    teacher: dict[str, str] = Field(default_factory=dict)
    libraries: dict[str, str] = Field(default_factory=dict)
    training: dict[str, object] = Field(default_factory=dict)

    def check(self, schema: Schema) -> None:
        """Refuse a bundle made for another schema.

        Raises:
            SchemaMismatch: version differs.
            ModelLoadError: finding list differs from the schema's.
        """
        schema.check_version(self.schema_version, "model bundle")
        if self.findings != schema.keys:
            raise ModelLoadError("model bundle finding order differs from the schema's")

    def write(self, directory: Path) -> None:
        """Write labeler_config.json into a bundle directory."""
        (directory / CONFIG_NAME).write_text(self.model_dump_json(indent=1), encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> LabelerConfig:
        """Read a bundle's labeler_config.json.

        Raises:
            ModelLoadError: missing or invalid.
        """
        path = directory / CONFIG_NAME
        if not path.is_file():
            raise ModelLoadError(f"{directory} is not a model bundle (no {CONFIG_NAME})")
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ModelLoadError(f"{path} is invalid: {exc}") from exc
