from labeler.sections import labelled_sections, split_sections
from labeler.tokenize import model_text


def test_split_named_sections():
    text = "INDICATION: cough\nCOMPARISON: None.\nFINDINGS: Lungs clear.\nIMPRESSION: Normal."
    secs = split_sections(text)
    assert [s.name for s in secs] == ["INDICATION", "COMPARISON", "FINDINGS", "IMPRESSION"]
    assert secs[2].text(text).strip() == "Lungs clear."
    assert [s.name for s in labelled_sections(text)] == ["FINDINGS", "IMPRESSION"]


def test_headerless_text_is_findings():
    assert [s.name for s in split_sections("No pneumothorax.")] == ["FINDINGS"]


def test_header_must_start_a_line():
    text = "FINDINGS: no change in findings: stable."
    assert [s.name for s in split_sections(text)] == ["FINDINGS"]


def test_model_text_puts_impression_first():
    text = "FINDINGS: Lungs  clear.\nIMPRESSION: Normal\nchest."
    assert model_text(text) == ("Normal chest.", "Lungs clear.")
