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


def test_header_inside_a_sentence_is_text():
    text = "FINDINGS: no change in findings: stable."
    assert [s.name for s in split_sections(text)] == ["FINDINGS"]


def test_model_text_puts_impression_first():
    text = "FINDINGS: Lungs  clear.\nIMPRESSION: Normal\nchest."
    assert model_text(text) == ("Normal chest.", "Lungs clear.")


def test_flattened_report_is_split_at_headers_anywhere():
    text = "INDICATION: Cough. FINDINGS: Small left pleural effusion. IMPRESSION: Possible pneumonia."
    secs = split_sections(text)
    assert [(s.name, s.text(text).strip()) for s in secs] == [
        ("INDICATION", "Cough."),
        ("FINDINGS", "Small left pleural effusion."),
        ("IMPRESSION", "Possible pneumonia."),
    ]
    assert model_text(text) == ("Possible pneumonia.", "Small left pleural effusion.")


def test_headers_without_colon_and_other_names():
    assert [s.name for s in split_sections("IMPRESSION\nNo acute disease.")] == ["IMPRESSION"]
    text = "Report: Chest PA view. Comment: no active disease."
    assert [(s.name, s.text(text).strip()) for s in split_sections(text)] == [
        ("FINDINGS", "Chest PA view."),
        ("IMPRESSION", "no active disease."),
    ]
    assert [s.name for s in split_sections("CONCLUSION - stable.\nOPINION: clear")] == [
        "IMPRESSION",
        "IMPRESSION",
    ]


def test_report_with_only_context_headers_is_body_after_the_first_line():
    text = "History: fever\nComparison: none\nHeart normal. Small right effusion."
    assert [(s.name, s.text(text).strip()) for s in split_sections(text)] == [
        ("INDICATION", "fever"),
        ("COMPARISON", "none"),
        ("FINDINGS", "Heart normal. Small right effusion."),
    ]
    flat = "INDICATION: Cough. Small left pleural effusion."
    assert [s.text(flat).strip() for s in labelled_sections(flat)] == ["Small left pleural effusion."]


def test_has_body():
    from labeler.sections import has_body

    assert not has_body("Clinical history: rule out pneumonia")
    assert not has_body("INDICATION: fever\nFINDINGS:\nIMPRESSION:   ")
    assert has_body("No pneumothorax.")


def test_impression_without_findings_header_reads_the_lines_below_the_history_as_body():
    text = "PA AND LATERAL CHEST\nHistory: cough, fever\nComparison is made with 2019.\n"
    text += "Lungs: Clear. No effusion.\nHeart: normal size.\nImpression: Normal chest."
    assert [(s.name, " ".join(s.text(text).split())) for s in split_sections(text)] == [
        ("UNKNOWN", "PA AND LATERAL CHEST"),
        ("INDICATION", "cough, fever"),
        ("FINDINGS", "Comparison is made with 2019. Lungs: Clear. No effusion. Heart: normal size."),
        ("IMPRESSION", "Normal chest."),
    ]
    lead = "Chest two views, 58M smoker.\nThe lungs are hyperinflated.\nCONCLUSION: Emphysema."
    assert [s.name for s in split_sections(lead)] == ["UNKNOWN", "FINDINGS", "IMPRESSION"]


def test_one_line_indication_and_impression_stays_an_impression_alone():
    text = "INDICATION: Fever. ?pneumonia\nIMPRESSION: No acute disease."
    assert [s.name for s in split_sections(text)] == ["INDICATION", "IMPRESSION"]
    assert [s.text(text).strip() for s in labelled_sections(text)] == ["No acute disease."]


def test_a_lone_impression_is_read_in_the_body_slot():
    assert model_text("INDICATION: cough\nIMPRESSION: Small effusion.") == ("", "Small effusion.")
    assert model_text("FINDINGS: Clear.\nIMPRESSION: Normal.") == ("Normal.", "Clear.")
    assert model_text("Clear lungs.") == ("", "Clear lungs.")


def test_headers_mid_line_without_a_sentence_end():
    # an IU-style report flattened onto one line: the indication has no full stop
    text = (
        "INDICATION: XXXX loss and chest pain COMPARISON: XXXX FINDINGS: Heart mildly enlarged "
        "IMPRESSION: Cardiomegaly"
    )
    assert [(s.name, s.text(text).strip()) for s in split_sections(text)] == [
        ("INDICATION", "XXXX loss and chest pain"),
        ("COMPARISON", "XXXX"),
        ("FINDINGS", "Heart mildly enlarged"),
        ("IMPRESSION", "Cardiomegaly"),
    ]
    mixed = "History: cough Findings: small effusion Impression: effusion"
    assert [s.name for s in split_sections(mixed)] == ["INDICATION", "FINDINGS", "IMPRESSION"]
    # a capitalized context word inside the findings does not cut them short
    inside = "FINDINGS: Chest Comparison: there is a 2.6 cm mass. IMPRESSION: Mass."
    assert [(s.name, s.text(inside).strip()) for s in split_sections(inside)] == [
        ("FINDINGS", "Chest Comparison: there is a 2.6 cm mass."),
        ("IMPRESSION", "Mass."),
    ]


def test_shorthand_headers():
    text = "CXR 2V\nHx: smoker, r/o pneumonia\nRUL opacity.\nIMP: RUL pneumonia."
    assert [(s.name, s.text(text).strip()) for s in split_sections(text)] == [
        ("UNKNOWN", "CXR 2V"),
        ("INDICATION", "smoker, r/o pneumonia"),
        ("FINDINGS", "RUL opacity."),
        ("IMPRESSION", "RUL pneumonia."),
    ]


def test_flattened_report_without_findings_header_reads_after_the_first_sentence():
    lines = "History: Fever.\nLungs: Right lower lobe consolidation.\nImpression: Pneumonia."
    flat = " ".join(lines.split())
    for text in (lines, flat):
        assert [(s.name, s.text(text).strip()) for s in split_sections(text)] == [
            ("INDICATION", "Fever."),
            ("FINDINGS", "Lungs: Right lower lobe consolidation."),
            ("IMPRESSION", "Pneumonia."),
        ]
    # a one-sentence history of a flattened indication + impression report stays context
    short = "Indication: Cough, rule out pneumonia. Impression: No acute disease."
    assert [s.name for s in split_sections(short)] == ["INDICATION", "IMPRESSION"]
