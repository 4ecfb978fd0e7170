"""The model card of a bundle: card.json (machine-readable) and MODEL_CARD.md (for people).

What the student is, what it was trained on and who labelled that, the licence its weights
carry, parity of every shipped file against PyTorch, dev metrics per variant and per dev set,
and the sha256 of every file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from distill.export import ParityReport
from labeler.digest import file_sha256
from labeler.metrics import EvalResult
from labeler.model.config import LabelerConfig


def _what(training: dict[str, object]) -> str:
    """The card's subject: one student, or an ensemble of n."""
    members = training.get("members")
    if isinstance(members, list) and len(members) > 1:
        kind = (
            "DeBERTa-v2 students"
            if all(not m.get("init") for m in members if isinstance(m, dict))
            else "students"
        )
        return f"An ensemble of {len(members)} {kind} (mean of their logits, one ONNX graph), each"
    init = training.get("init_provenance")
    if isinstance(init, dict) and init:
        return f"A student (fine-tuned from the pretrained encoder {init.get('source') or init.get('path')})"
    return "A DeBERTa-v2 student (trained from scratch)"


def write_card(
    out: Path,
    config: LabelerConfig,
    checks: list[ParityReport],
    metrics: dict[str, EvalResult],
    notes: Sequence[str] = (),
    dev_sets: dict[str, dict[str, EvalResult]] | None = None,
) -> None:
    """Write card.json and MODEL_CARD.md (with every file's sha256)."""
    dev_sets = dev_sets or {}
    files = {
        p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size}
        for p in sorted(out.iterdir())
        if p.is_file() and p.name not in ("card.json", "MODEL_CARD.md")
    }
    card = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "schema_version": config.schema_version,
        "teacher": config.teacher,
        "training": config.training,
        "libraries": config.libraries,
        "parity": [c.to_dict() for c in checks],
        "notes": list(notes),
        "dev_metrics": {k: v.to_dict() for k, v in metrics.items()},
        "dev_sets": {name: {k: v.to_dict() for k, v in by.items()} for name, by in dev_sets.items()},
        "data": data_statement(config.training),
        "files": files,
    }
    (out / "card.json").write_text(json.dumps(card, indent=1, default=str), encoding="utf-8")
    lines = [
        "# radlabel student model card",
        "",
        f"{_what(config.training)} distilled from LLM teacher labels (schema "
        f"v{config.schema_version}). It reads the FINDINGS and IMPRESSION sections and returns, per "
        "finding, one of: not mentioned, u = -3..+3 (LABELS.md).",
        "",
        "## Data, labellers and licence",
        *[f"- {line}" for line in card["data"]["lines"]],  # type: ignore[index]
        f"- Teacher label file sha256 {config.teacher.get('labels_sha256', '?')[:12]}.",
        "- Who labelled: LLM annotators throughout, no radiologist. Teacher labels: one LLM pass per report "
        "(IU) or the writer LLM checked by a blind LLM annotator with disputes adjudicated (synthetic). Dev "
        "sets: two independent LLM annotators, disputes adjudicated by a third LLM reading.",
        f"- **Weights licence: {card['data']['licence']}**",  # type: ignore[index]
        "",
        "## Training",
        "```json",
        json.dumps(config.training, indent=1, default=str),
        "```",
        "",
        "## Parity (ONNX vs PyTorch on dev reports)",
        "| variant | reports | max abs diff | argmax agreement | provider | passed |",
        "|---|---|---|---|---|---|",
        *[
            f"| {c.variant} | {c.n_reports} | {c.max_abs_diff:.2e} | {c.argmax_agreement:.4f} | {c.provider} | {c.passed} |"
            for c in checks
        ],
        "",
        *[f"- {n}" for n in notes],
        *([""] if notes else []),
    ]
    for variant, m in metrics.items():
        lines += [
            f"## Dev metrics ({variant})",
            f"macro-F1 {m.macro_f1:.4f}; pooled F1 present {m.per_status['present']['f1']:.3f}, "
            f"absent {m.per_status['absent']['f1']:.3f}, uncertain {m.per_status['uncertain']['f1']:.3f}; "
            f"u exact {m.u_exact:.3f}, MAE {m.u_mae:.3f}, kappa {m.u_kappa:.3f}",
            "",
            "| finding | F1 | present | absent | uncertain |",
            "|---|---|---|---|---|",
            *[
                f"| {k} | {r['f1']:.3f} | {r['f1_present']:.3f} | {r['f1_absent']:.3f} | {r['f1_uncertain']:.3f} |"
                for k, r in m.per_finding.items()
            ],
            "",
        ]
    if dev_sets:
        lines += [
            "## Dev sets",
            "| set | variant | macro-F1 | uncertain F1 | u exact | spurious / report | missed / report |",
            "|---|---|---|---|---|---|---|",
            *[
                f"| {name} | {v} | {m.macro_f1:.4f} | {m.per_status['uncertain']['f1']:.3f} | {m.u_exact:.3f} "
                f"| {m.spurious_per_report:.3f} | {m.missed_per_report:.3f} |"
                for name, by in dev_sets.items()
                for v, m in by.items()
            ],
            "",
        ]
    lines += ["## Files", "| file | bytes | sha256 |", "|---|---|---|"]
    lines += [f"| {name} | {v['bytes']} | {v['sha256']} |" for name, v in files.items()]
    lines += [
        "",
        "## Limits",
        "- Trained from scratch (no pretrained weights reachable).",
        "- Evidence spans are the clause of each finding's most-attended token (label-wise attention): "
        "they show where the model looked, which is not always what decided it.",
        "- Trained on English reports from one US hospital network and LLM-written reports; measure it "
        "on your own archive before trusting it there.",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")


IU_LICENCE = "CC BY-NC-ND 4.0"


def data_statement(training: dict[str, object]) -> dict[str, object]:
    """What the student was trained on, and the licence that follows for its weights.

    A corpus is named by its path; the IU X-ray reports (`reports.jsonl` at the data root) are
    CC BY-NC-ND 4.0, so weights trained on them are for non-commercial use; the synthetic set
    is CC0, so a student trained on it alone carries no such restriction.
    """
    members = training.get("members")
    configs = members if isinstance(members, list) else [training]
    pairs: list[tuple[str, str]] = []
    for cfg in configs:
        if isinstance(cfg, dict):
            pairs.append((str(cfg.get("reports", "")), str(cfg.get("labels", ""))))
            more = cast(list[list[str]], cfg.get("corpora") or [])
            pairs += [(str(r), str(lab)) for r, lab in more]
    lines, restricted = [], False
    for reports, labels in dict.fromkeys(pairs):
        if "synthetic" in Path(reports).parts:
            lines.append(
                f"Synthetic multi-setting reports (CC0 1.0, LLM-written): {reports}, labels {labels}."
            )
        else:
            restricted = True
            lines.append(
                f"Indiana University chest X-ray reports (Demner-Fushman et al., JAMIA 2016; NLM Open-i; "
                f"{IU_LICENCE}): {reports}, labels {labels}."
            )
    licence = (
        f"non-commercial: trained on {IU_LICENCE} reports (research use; the code is Apache-2.0)"
        if restricted
        else "trained on CC0 data only: no restriction from the training data"
    )
    return {"lines": lines, "licence": licence, "non_commercial": restricted}
