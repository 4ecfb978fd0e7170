"""The label schema (LABELS.md) as versioned, validated data.

The schema is the contract between teacher, student, API and the image-training job, so it
lives in one JSON file shipped inside the package and every consumer reads it from here:
finding keys, status mappings, smoothing constants and the views onto other taxonomies.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labeler.errors import InvalidInput, SchemaMismatch

Status = Literal["present", "absent", "uncertain", "not_mentioned"]
U_VALUES: tuple[int, ...] = (-3, -2, -1, 0, 1, 2, 3)
DEFAULT_VERSION = "1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Finding(_Strict):
    """One labelled finding: its key, display name and a few wording hints."""

    key: str
    name: str
    hints: list[str] = Field(default_factory=list)


class DerivedFinding(_Strict):
    """The derived `no_finding` label and the findings it ignores."""

    key: str
    name: str
    ignore: list[str]


class StatusMapping(_Strict):
    """Which u values map to which status; together they must cover -3..+3 exactly once."""

    present: list[int]
    uncertain: list[int]
    absent: list[int]

    @model_validator(mode="after")
    def _covers_scale(self) -> StatusMapping:
        seen = sorted(self.present + self.uncertain + self.absent)
        if seen != sorted(U_VALUES):
            raise ValueError(f"status mapping must cover -3..3 once each, got {seen}")
        return self

    def status(self, u: int | None) -> Status:
        """Map a certainty value to its status.

        Args:
            u: certainty in -3..3, or None when the finding is not mentioned.

        Returns:
            The status name.
        """
        if u is None:
            return "not_mentioned"
        if u in self.present:
            return "present"
        if u in self.absent:
            return "absent"
        return "uncertain"


class Smoothing(_Strict):
    """Generalized label smoothing constants: r(u) = r0 - k*|u|."""

    k: float = 0.417
    r0: float = 1.0


class View(_Strict):
    """A named aggregation of fine findings into another taxonomy."""

    description: str
    labels: dict[str, list[str]]


class Schema(_Strict):
    """The whole label schema of one version."""

    version: str
    source: str
    findings: list[Finding]
    derived: DerivedFinding
    status_mappings: dict[str, StatusMapping]
    smoothing: Smoothing
    views: dict[str, View]

    @model_validator(mode="after")
    def _consistent(self) -> Schema:
        keys = [f.key for f in self.findings]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate finding keys")
        if "default" not in self.status_mappings:
            raise ValueError("a 'default' status mapping is required")
        known = set(keys) | {self.derived.key}
        for name, view in self.views.items():
            for label, members in view.labels.items():
                unknown = set(members) - known
                if unknown:
                    raise ValueError(f"view {name!r} label {label!r} names unknown {sorted(unknown)}")
        return self

    @property
    def keys(self) -> list[str]:
        """The labelled finding keys in schema order (the model's head order)."""
        return [f.key for f in self.findings]

    def mapping(self, name: str = "default") -> StatusMapping:
        """Return a status mapping by name.

        Raises:
            InvalidInput: the name is not a mapping of this schema.
        """
        try:
            return self.status_mappings[name]
        except KeyError:
            raise InvalidInput(
                f"unknown status mapping {name!r}; known: {sorted(self.status_mappings)}"
            ) from None

    def view(self, name: str) -> View:
        """Return a view by name.

        Raises:
            InvalidInput: the name is not a view of this schema.
        """
        try:
            return self.views[name]
        except KeyError:
            raise InvalidInput(f"unknown view {name!r}; known: {sorted(self.views)}") from None

    def derive_no_finding(self, u: dict[str, int | None], mapping: str = "default") -> int:
        """Derive the `no_finding` certainty from the labelled findings.

        No finding is present (+3) when no finding outside `derived.ignore` is present or
        uncertain, and absent (-3) otherwise.

        Args:
            u: certainty per labelled finding (None = not mentioned).
            mapping: the status mapping used to read u.

        Returns:
            +3 or -3.
        """
        statuses = self.mapping(mapping)
        for key, value in u.items():
            if key in self.derived.ignore:
                continue
            if statuses.status(value) in ("present", "uncertain"):
                return -3
        return 3

    def check_version(self, version: str, what: str) -> None:
        """Refuse data made under another schema version.

        Raises:
            SchemaMismatch: the versions differ.
        """
        if version != self.version:
            raise SchemaMismatch(f"{what} uses schema v{version}, this labeler has v{self.version}")


def aggregate_u(values: list[int | None]) -> int | None:
    """Merge member certainties into one view label: the most positive u wins.

    This follows CheXpert's merge (present beats uncertain beats absent); with the 7-level
    scale the most positive value is the natural generalisation.
    """
    mentioned = [v for v in values if v is not None]
    return max(mentioned) if mentioned else None


@lru_cache(maxsize=4)
def load_schema(version: str = DEFAULT_VERSION) -> Schema:
    """Load a packaged schema version.

    Args:
        version: the schema version to load.

    Returns:
        The validated schema.

    Raises:
        SchemaMismatch: no schema of that version is packaged.
    """
    ref = resources.files("labeler.resources").joinpath(f"schema_v{version}.json")
    if not ref.is_file():
        raise SchemaMismatch(f"no packaged schema version {version!r}")
    return Schema.model_validate(json.loads(ref.read_text(encoding="utf-8")))


# The student predicts, per finding, one of 8 classes: not mentioned, then u = -3..+3.
U_CLASSES: tuple[int | None, ...] = (None, -3, -2, -1, 0, 1, 2, 3)


def u_to_class(u: int | None) -> int:
    """Class index of a certainty (0 = not mentioned, 1..7 = u -3..+3)."""
    return 0 if u is None else u + 4


def class_to_u(index: int) -> int | None:
    """Certainty of a class index (inverse of `u_to_class`)."""
    return U_CLASSES[index]
