"""Shared helpers of the benchmarks: the dev split, the machine description, result files."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
RESULTS = ROOT / "tests" / "bench" / "results"


def dev_split() -> tuple[list[str], list[str], dict[str, dict[str, int | None]]]:
    """(ids, texts, gold u-maps) of the adjudicated dev split."""
    reports = {}
    with (DATA / "reports.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            obj = json.loads(line)
            reports[obj["id"]] = obj["text"]
    gold = {}
    with (DATA / "labels" / "dev_gold.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            obj = json.loads(line)
            gold[obj["id"]] = obj["u"]
    ids = list(gold)
    return ids, [reports[i] for i in ids], gold


def fresh(text: str, tag: str) -> str:
    """`text` made new with an accession line, as real traffic is new text (a repeated text would
    hit the tokenizer's cache). `wrk_post.lua` appends the same line in Lua."""
    return f"{text}\nAccession {tag}."


def machine() -> str:
    """A one-line description of this machine."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def save(name: str, payload: dict[str, object]) -> Path:
    """Write a result JSON under tests/bench/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return path
