"""The LLM teacher's prompt, built from the schema and the annotation guide, and its checker.

The prompt version is a hash of the prompt text itself, so any change to the schema, the guide
or the instructions yields a new version, a new cache key and a new value in every label.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

from labeler.schema import Schema

# v2 = LABELS.md with the clarifications applied when the synthetic set was adjudicated;
# v1 (without them) stays packaged, since labels made with it name its version
GUIDE_VERSION = "v2"

INSTRUCTIONS = """You are an expert radiology annotator. Label the chest X-ray report the user sends by reading it and judging it yourself, following the annotation guide below exactly.
Label only what the FINDINGS and IMPRESSION say (indication is context only); where they disagree about a finding the IMPRESSION governs.
Answer with one JSON object and nothing else:
{"u": {"<finding key>": <integer -3..3>, ...}, "evidence": {"<finding key>": "<shortest verbatim quote, at most 10 words>", ...}}
"u" holds only the findings the report mentions; leave the others out. Use only these keys: %s."""


def guide_text() -> str:
    """The annotation guide: LABELS.md, packaged as `distill/resources/guide_<version>.md`."""
    return (
        resources.files("distill.resources").joinpath(f"guide_{GUIDE_VERSION}.md").read_text(encoding="utf-8")
    )


def system_prompt(schema: Schema) -> str:
    """The system message: instructions, allowed keys, then the whole guide."""
    return INSTRUCTIONS % ", ".join(schema.keys) + "\n\n" + guide_text()


def prompt_version(schema: Schema) -> str:
    """`<guide version>-<12 hex of sha256(system prompt)>`."""
    digest = hashlib.sha256(system_prompt(schema).encode("utf-8")).hexdigest()[:12]
    return f"{GUIDE_VERSION}-{digest}"


def messages(schema: Schema, report: str) -> list[dict[str, str]]:
    """Chat messages for one report."""
    return [{"role": "system", "content": system_prompt(schema)}, {"role": "user", "content": report}]


class InvalidAnswer(ValueError):
    """The model's answer is not a valid label object."""


def parse_answer(content: str, schema: Schema) -> tuple[dict[str, int], dict[str, str]]:
    """Validate an answer against the schema.

    Accepts the JSON object alone or inside a ```json fence.

    Returns:
        (u, evidence).

    Raises:
        InvalidAnswer: not JSON, unknown keys, or values outside -3..3.
    """
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("{") :]
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"answer is not JSON ({exc.msg})") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("u"), dict):
        raise InvalidAnswer("answer lacks a 'u' object")
    u = obj["u"]
    unknown = sorted(set(u) - set(schema.keys))
    if unknown:
        raise InvalidAnswer(f"unknown finding keys {unknown}")
    bad = {k: v for k, v in u.items() if not isinstance(v, int) or isinstance(v, bool) or not -3 <= v <= 3}
    if bad:
        raise InvalidAnswer(f"u values must be integers -3..3: {bad}")
    evidence = obj.get("evidence") or {}
    if not isinstance(evidence, dict):
        raise InvalidAnswer("'evidence' must be an object")
    return dict(u), {str(k): str(v) for k, v in evidence.items() if k in u}
