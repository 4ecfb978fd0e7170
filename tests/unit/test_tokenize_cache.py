"""The encoder's token cache: one tokenizer call per report, however often it is asked, bounded."""

from __future__ import annotations

from labeler.tokenize import ReportEncoder


def test_encodings_are_cached_bounded_and_equal_to_fresh_ones(tiny_bundle, dev_reports):
    texts = [r["text"] for r in dev_reports[:6]]
    enc = ReportEncoder.from_file(tiny_bundle / "tokenizer.json")
    enc.cache_size = 4
    first = enc.encodings(texts[:3])
    again = enc.encodings([texts[1], texts[0], texts[1]])
    assert again[0] is first[1] and again[1] is first[0] and again[2] is first[1]  # no new tokenizer call
    enc.encodings(texts[3:6])
    # least recently used first out: 2 and 1 go, 0 (asked again) stays
    assert len(enc._cache) == 4 and texts[2] not in enc._cache and texts[0] in enc._cache
    fresh = ReportEncoder.from_file(tiny_bundle / "tokenizer.json")
    assert enc.ids(texts) == fresh.ids(texts)
