"""The model labeler on the committed tiny bundle: real ONNX Runtime sessions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labeler.errors import InputTooLong, InvalidInput, ModelLoadError, SchemaMismatch
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from labeler.tokenize import ReportEncoder


def reports(dev_reports):
    return [Report(id=r["id"], text=r["text"]) for r in dev_reports]


def test_loads_int8_on_cpu_and_labels_in_order(tiny_bundle, dev_reports):
    lab = ModelLabeler.from_bundle(tiny_bundle, prefer_gpu=False)
    assert lab.name.startswith("model/int8/") and lab.health()
    recs = lab.label(reports(dev_reports), views=["chexpert14"])
    assert [r.id for r in recs] == [r["id"] for r in dev_reports]
    for rec in recs:
        assert set(rec.findings) == {*lab.schema.keys, "no_finding"}
        probs = rec.findings["cardiomegaly"].probs
        assert probs is not None and len(probs) == 8 and abs(sum(probs) - 1) < 1e-3
        # the decoded class is the argmax of the probabilities
        u = rec.findings["cardiomegaly"].u
        assert (None, -3, -2, -1, 0, 1, 2, 3)[int(np.argmax(probs))] == u
        assert rec.views is not None and "Lung Lesion" in rec.views["chexpert14"]


def test_length_sorted_batching_matches_one_by_one(tiny_bundle, dev_reports):
    texts = [r["text"] for r in dev_reports]
    batched = ModelLabeler.from_bundle(tiny_bundle, variant="fp32", batch_size=16, prefer_gpu=False).logits(
        texts
    )
    single = ModelLabeler.from_bundle(tiny_bundle, variant="fp32", batch_size=1, prefer_gpu=False).logits(
        texts
    )
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_bad_inputs_are_typed_errors(tiny_bundle):
    lab = ModelLabeler.from_bundle(tiny_bundle, max_chars=100, prefer_gpu=False)
    with pytest.raises(InvalidInput, match="empty"):
        lab.label([Report(id="a", text="   ")])
    with pytest.raises(InputTooLong, match="limit is 100"):
        lab.label([Report(id="a", text="No effusion. " * 20)])
    with pytest.raises(InvalidInput, match="unknown view"):
        lab.label([Report(id="a", text="No effusion.")], views=["nih14"])
    assert lab.label([]) == []


def test_schema_mismatch_refused(tiny_bundle):
    path = tiny_bundle / "labeler_config.json"
    cfg = json.loads(path.read_text())
    cfg["schema_version"] = "2"
    path.write_text(json.dumps(cfg))
    with pytest.raises(SchemaMismatch, match="v2"):
        ModelLabeler.from_bundle(tiny_bundle)
    cfg["schema_version"] = "1"
    cfg["findings"] = list(reversed(cfg["findings"]))
    path.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="order"):
        ModelLabeler.from_bundle(tiny_bundle)


def test_broken_bundles(tiny_bundle, tmp_path):
    with pytest.raises(ModelLoadError, match="not a model bundle"):
        ModelLabeler.from_bundle(tmp_path)
    with pytest.raises(ModelLoadError, match="no fp16"):
        ModelLabeler.from_bundle(tiny_bundle, variant="fp16")
    (tiny_bundle / "model.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelLoadError, match="cannot load"):
        ModelLabeler.from_bundle(tiny_bundle, variant="fp32")
    (tiny_bundle / "model.int8.onnx").unlink()
    with pytest.raises(ModelLoadError, match="does not exist"):
        ModelLabeler.from_bundle(tiny_bundle, variant="int8")


def test_truncation_keeps_the_impression(tiny_bundle):
    enc = ReportEncoder.from_file(tiny_bundle / "tokenizer.json", max_length=24)
    text = "FINDINGS: " + "Heart size is normal. " * 30 + "\nIMPRESSION: Small left pleural effusion."
    ids, cut = enc.ids([text])
    assert len(ids[0]) == 24 and cut[0] > 0
    imp = enc.tokenizer.encode("Small left pleural effusion.", add_special_tokens=False).ids
    assert ids[0][1 : 1 + len(imp)] == imp  # [CLS] impression [SEP] findings... [SEP]
    assert ids[0][1 + len(imp)] == enc.sep_id and ids[0][-1] == enc.sep_id


def test_truncation_is_logged_without_text(tiny_bundle, caplog):
    lab = ModelLabeler.from_bundle(tiny_bundle, prefer_gpu=False)
    secret = "Zebrafinding"
    text = "FINDINGS: " + f"{secret} heart size is normal. " * 80 + "\nIMPRESSION: No effusion."
    with caplog.at_level("WARNING"):
        lab.label([Report(id="a", text=text), Report(id="b", text="FINDINGS: No effusion.")])
    assert "1 of 2 reports exceeded 128 tokens" in caplog.text
    assert secret not in caplog.text


def test_fp16_variant_keeps_the_fp32_decisions(tiny_bundle_fp16, dev_reports):
    """An fp16 copy made by the export code runs (CPU provider here) and decodes as fp32 does."""
    from labeler.model.config import LabelerConfig
    from labeler.model.labeler import choose_file

    tiny_bundle = tiny_bundle_fp16
    config = LabelerConfig.read(tiny_bundle)
    # every weight matrix is stored in fp16; inputs and logits stay int64 / float32
    import onnx

    graph = onnx.load(str(tiny_bundle / "model.fp16.onnx")).graph
    matrices = [t for t in graph.initializer if len(t.dims) == 2]
    assert matrices and all(t.data_type == onnx.TensorProto.FLOAT16 for t in matrices)
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    texts = [r["text"] for r in dev_reports]
    half = ModelLabeler.from_bundle(tiny_bundle, variant="fp16", prefer_gpu=False)
    full = ModelLabeler.from_bundle(tiny_bundle, variant="fp32", prefer_gpu=False)
    assert half.name.startswith("model/fp16/")
    lh, lf = half.logits(texts), full.logits(texts)
    assert lh.dtype == np.float32 and np.isfinite(lh).all()
    assert np.abs(lh - lf).max() < 0.05
    assert (lh.argmax(-1) == lf.argmax(-1)).mean() >= 0.98
    # auto picks int8 on CPU and fp16 where CUDA is first
    cpu = ["CPUExecutionProvider"]
    assert choose_file(config, "auto", cpu) == ("int8", "model.int8.onnx")
    assert choose_file(config, "auto", ["CUDAExecutionProvider", *cpu]) == ("fp16", "model.fp16.onnx")


def test_empty_body_report_mentions_nothing(tiny_bundle):
    from labeler.assemble import is_empty_body, reassemble

    lab = ModelLabeler.from_bundle(tiny_bundle)
    [rec] = lab.label([Report(id="x", text="INDICATION: chest pain\nFINDINGS:\nIMPRESSION:")])
    assert all(f.u is None for f in rec.findings.values()) and is_empty_body(rec, lab.schema)
    # a remapping keeps it empty
    assert is_empty_body(reassemble(rec, lab.schema, ["chexpert14"], "chexpert"), lab.schema)


def test_bundle_section_headers_decide_what_the_model_reads(tiny_bundle):
    from labeler.model.config import LabelerConfig
    from labeler.rules.vocab import load_vocabulary

    text = "HISTORY: cough\nREMARKS: Small left pleural effusion."
    packaged = ModelLabeler.from_bundle(tiny_bundle)
    # the packaged headers do not know REMARKS: the body is the text after the history line
    assert (
        packaged.encoder.ids([text])[0]
        == packaged.encoder.ids(["FINDINGS: REMARKS: Small left pleural effusion."])[0]
    )
    config = LabelerConfig.read(tiny_bundle)
    sections = load_vocabulary().sections.model_dump()
    sections["headers"].append({"name": "FINDINGS", "pattern": "remarks"})
    config.sections = type(load_vocabulary().sections).model_validate(sections)
    config.write(tiny_bundle)
    own = ModelLabeler.from_bundle(tiny_bundle)
    assert own.encoder.ids([text])[0] == own.encoder.ids(["FINDINGS: Small left pleural effusion."])[0]


def test_model_evidence_spans_come_from_the_labelled_sections(tiny_bundle, dev_reports):
    from labeler.sections import labelled_sections

    lab = ModelLabeler.from_bundle(tiny_bundle)
    assert lab.backend.has_attention
    reports = [Report(id=r["id"], text=r["text"]) for r in dev_reports[:20]]
    for rep, rec in zip(reports, lab.label(reports), strict=True):
        allowed = [(s.start, s.end) for s in labelled_sections(rep.text)]
        for key, f in rec.findings.items():
            if f.u is None or key == "no_finding":
                assert f.evidence == []
                continue
            assert 1 <= len(f.evidence) <= 2
            for ev in f.evidence:
                assert rep.text[ev.start : ev.end] == ev.text and ev.text.strip() == ev.text
                assert ev.section in ("FINDINGS", "IMPRESSION")
                assert any(lo <= ev.start and ev.end <= hi for lo, hi in allowed)
    # evidence off: the same labels, no spans
    quiet = ModelLabeler.from_bundle(tiny_bundle)
    quiet.evidence = False
    assert [r.u_map() for r in quiet.label(reports)] == [r.u_map() for r in lab.label(reports)]
    assert all(not f.evidence for r in quiet.label(reports) for f in r.findings.values())


def test_bundle_without_attention_output_still_labels(tiny_bundle, dev_reports):
    """Bundles exported before the attention output label as before, without evidence spans."""
    import onnx

    for name in ("model.onnx", "model.int8.onnx"):
        graph = onnx.load(str(tiny_bundle / name))
        kept = [o for o in graph.graph.output if o.name != "attention"]
        del graph.graph.output[:]
        graph.graph.output.extend(kept)
        onnx.save(graph, str(tiny_bundle / name))
    lab = ModelLabeler.from_bundle(tiny_bundle)
    assert not lab.backend.has_attention
    reports = [Report(id=r["id"], text=r["text"]) for r in dev_reports[:5]]
    recs = lab.label(reports)
    assert all(not f.evidence for r in recs for f in r.findings.values())
    assert any(f.u is not None for r in recs for f in r.findings.values())


def test_sessions_plan_no_memory_pattern_per_shape(tiny_bundle, dev_reports):
    """Reports arrive in ever-new (batch, length) shapes; ORT's memory patterns, cached per
    shape, grew a served process in steps (`tests/bench/memory.py`), so every session is made
    without them, for every variant, and still labels mixed lengths as one-by-one does."""
    for variant in ("fp32", "int8"):
        lab = ModelLabeler.from_bundle(tiny_bundle, variant=variant, batch_size=4, prefer_gpu=False)
        assert lab.backend.session.get_session_options().enable_mem_pattern is False
    texts = [r["text"] for r in dev_reports]
    mixed = ModelLabeler.from_bundle(tiny_bundle, variant="fp32", batch_size=3, prefer_gpu=False)
    single = ModelLabeler.from_bundle(tiny_bundle, variant="fp32", batch_size=1, prefer_gpu=False)
    np.testing.assert_allclose(mixed.logits(texts), single.logits(texts), atol=1e-4)


def test_a_cpu_quota_caps_the_session_threads(tiny_bundle, monkeypatch):
    """A container's CPU quota (docker --cpus) leaves the affinity showing every host core; a
    session asked for no thread count then gets the quota's cores, not ORT's one per core seen."""
    import labeler.lanes as lanes

    monkeypatch.setattr(lanes, "cpu_quota", lambda: 1.0)
    capped = ModelLabeler.from_bundle(tiny_bundle, prefer_gpu=False)
    options = capped.backend.session.get_session_options()
    cores = len(lanes.os.sched_getaffinity(0))
    assert options.intra_op_num_threads == (1 if cores > 1 else 0)
    asked = ModelLabeler.from_bundle(tiny_bundle, threads=3, prefer_gpu=False)  # asked: as asked
    assert asked.backend.session.get_session_options().intra_op_num_threads == 3
    monkeypatch.setattr(lanes, "cpu_quota", lambda: None)
    free = ModelLabeler.from_bundle(tiny_bundle, prefer_gpu=False)
    assert free.backend.session.get_session_options().intra_op_num_threads == 0  # ORT's default
