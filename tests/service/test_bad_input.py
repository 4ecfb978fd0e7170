"""A sweep of bad requests against a live server: each answered 4xx in the error shape, none 5xx,
and the server healthy and correct afterwards."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.service.server import Server

JSON = {"content-type": "application/json"}


def cases() -> list[tuple[str, bytes, dict[str, str]]]:
    """(name, body, headers): at least 100 bad requests."""
    out: list[tuple[str, bytes, dict[str, str]]] = []

    def add(name: str, body: object, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        out.append((name, raw, JSON if headers is None else headers))

    for blank in ["", " ", "\n", "\t\t", "\r\n \r\n", "\u00a0" * 0 + "   "]:
        add(f"blank {blank!r}", {"text": blank})
        add(f"blank in list {blank!r}", {"reports": [{"text": "No effusion."}, {"text": blank}]})
    for ch in ["\u0000", "\u0001", "\u0007", "\u0008", "\u000b", "\u000c", "\u001b", "\u001f", "\u007f"]:
        add(f"control U+{ord(ch):04X}", {"text": f"No effusion.{ch}"})
    add("1 MB text", {"text": "No pneumothorax. " * 62_000})
    add("over report limit", {"text": "x" * 20_001})
    add("10k reports", {"reports": [{"text": "No effusion."}] * 10_000})
    add("65 reports", {"reports": [{"text": "No effusion."}] * 65})
    for bad in [b"\xff", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc", b"\xed\xa0\x80"]:
        add(f"invalid utf-8 {bad!r}", b'{"text": "' + bad + b'"}')
    for text in [1, 1.5, True, None, [], {}, ["a"], {"t": "a"}]:
        add(f"text {text!r}", {"text": text})
        add(f"list text {text!r}", {"reports": [{"text": text}]})
    for rid in [1, "", "x" * 257, [], {}, True]:
        add(f"id {rid!r}", {"text": "No effusion.", "id": rid})
    add("escaped lone surrogate", b'{"text": "No effusion \\ud800"}')
    for view in ["nope", 1, ["chexpert14", "nope"], [[]], {"a": 1}, ""]:
        add(f"view {view!r}", {"text": "No effusion.", "view": view})
    for mapping in ["strict", 1, None, [], "DEFAULT"]:
        add(f"mapping {mapping!r}", {"text": "No effusion.", "status_mapping": mapping})
    for include in ["everything", ["probs", "x"], 3]:
        add(f"include {include!r}", {"text": "No effusion.", "include": include})
    nested = {"text": "No effusion."}
    for _ in range(40):
        nested = {"reports": [nested]}
    add("deeply nested", nested)
    for junk in [
        [],
        [{"text": "a"}],
        "text",
        1,
        None,
        {},
        {"reports": None},
        {"reports": "a"},
        {"reports": [1, 2]},
        {"reports": [[]]},
        {"reports": [{}]},
        {"reports": [{"text": "a", "extra": 1}]},
        {"text": "a", "reports": [{"text": "b"}]},
        {"reports": [{"text": "a"}], "id": "x"},
        {"text": "a", "unknown": 1},
        {"TEXT": "a"},
        {"reports": {"text": "a"}},
    ]:
        add(f"junk {json.dumps(junk)[:30]}", junk)
    for raw in [
        b"{",
        b'{"text": "a"',
        b'{"text": "a",}',
        b"{'text': 'a'}",
        b'{"text": "a"}}',
        b"nul\x00l",
        b'{"text": "\\ud800"}' + b"x",
        b"[",
        b'{"reports": [{"text": "a"}',
        b"\x00\x01\x02",
        b'{"text": NaN}',
        b'{"text": "a\x01b"}',
    ]:
        add(f"truncated/invalid {raw[:20]!r}", raw)
    for ctype in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/xml",
        "",
    ]:
        add(f"content-type {ctype!r}", {"text": "No effusion."}, {"content-type": ctype} if ctype else {})
    return out


CASES = cases()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("sweep") / "log", env={"RADLABEL_MAX_REPORTS_PER_REQUEST": "64"})
    s.wait_ready()
    yield s
    s.terminate()


def test_sweep_has_at_least_100_cases():
    assert len(CASES) >= 100


def test_every_bad_request_is_a_4xx_in_the_error_shape(srv):
    failures = []
    with httpx.Client(timeout=60) as http:
        for name, body, headers in CASES:
            resp = http.post(srv.url + "/v1/labels", content=body, headers=headers)
            ok = 400 <= resp.status_code < 500
            try:
                err = resp.json()["error"]
                ok = ok and isinstance(err["code"], str) and isinstance(err["message"], str)
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                failures.append((name, resp.status_code, resp.text[:200]))
        assert not failures, failures
        # still healthy and still right
        assert http.get(srv.url + "/readyz").status_code == 200
        good = http.post(srv.url + "/v1/labels", json={"text": "FINDINGS: Small left pleural effusion."})
        assert good.status_code == 200
        assert good.json()["results"][0]["findings"]["pleural_effusion"]["status"] == "present"
    assert "Traceback" not in srv.log()


def test_a_half_sent_body_does_not_hurt_the_server(srv):
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(b"POST /v1/labels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        sock.sendall(b"Content-Length: 1000\r\n\r\n" + b'{"text": "No eff')
    assert httpx.get(srv.url + "/readyz").status_code == 200
