"""The committed openapi.yaml is exactly what the app generates, and names what the schema holds."""

from __future__ import annotations

import typing
from pathlib import Path

import yaml

from labeler.schema import load_schema
from service.openapi import render
from service.schemas import MappingName, ViewName

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_yaml_is_up_to_date():
    committed = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    assert committed == render(), "openapi.yaml is stale: run `make openapi`"


def test_api_view_and_mapping_names_are_the_schemas():
    schema = load_schema()
    assert set(typing.get_args(ViewName)) == set(schema.views)
    assert set(typing.get_args(MappingName)) == set(schema.status_mappings)
    doc = yaml.safe_load(render())
    paths = set(doc["paths"])
    assert {"/v1/labels", "/v1/model", "/healthz", "/readyz", "/metrics"} <= paths
