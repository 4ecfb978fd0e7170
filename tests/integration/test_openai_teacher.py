"""The LLM teacher client against a local OpenAI-compatible HTTP server.

No LLM can run here or in CI, so this test starts a stand-in server on loopback (stdlib
http.server) that speaks the chat-completions protocol and can be scripted to answer with
valid JSON, malformed JSON, HTTP 429, or to stall past the client's timeout. It is the one
stand-in the project allows; the teacher client, its cache and retries are the real code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from distill.teachers.base import TeacherFailure, TeacherLabel, write_results
from distill.teachers.openai import OpenAITeacher, OpenAITeacherConfig
from distill.teachers.prompt import InvalidAnswer, parse_answer, prompt_version
from labeler.records import Report
from labeler.schema import load_schema

GOOD = {"u": {"pneumothorax": -3, "cardiomegaly": 3}, "evidence": {"pneumothorax": "No pneumothorax"}}


class Script:
    """What the server answers, per report text: a list of actions consumed in order."""

    def __init__(self) -> None:
        self.plan: dict[str, list[str]] = {}
        self.requests: list[dict[str, object]] = []
        self.lock = threading.Lock()

    def next_action(self, report: str) -> str:
        with self.lock:
            steps = self.plan.get(report, [])
            return steps.pop(0) if steps else "ok"


def make_handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            return

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with script.lock:
                script.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
            report = body["messages"][-1]["content"]
            action = script.next_action(report)
            if action == "429":
                self.send_response(429)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            if action == "500":
                self.send_response(500)
                self.end_headers()
                return
            if action == "stall":
                time.sleep(1.5)
            content = {
                "ok": json.dumps(GOOD),
                "malformed": "{not json",
                "badkey": json.dumps({"u": {"tumour": 3}}),
                "stall": json.dumps(GOOD),
                "fenced": "```json\n" + json.dumps(GOOD) + "\n```",
            }[action]
            payload = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": content}}]}
            ).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up, as the stall test intends

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()
    httpd.server_close()


def teacher(url: str, cache: Path, **kw: object) -> OpenAITeacher:
    cfg = OpenAITeacherConfig(
        base_url=url, model="stand-in", cache_dir=cache, timeout_s=0.5, backoff_s=0.01, **kw
    )  # type: ignore[arg-type]
    return OpenAITeacher(cfg)


def reports(n: int) -> list[Report]:
    return [Report(id=f"r{i}", text=f"FINDINGS: No pneumothorax. Cardiomegaly {i}.") for i in range(n)]


def test_success_carries_versions_and_sends_key(server, tmp_path, monkeypatch):
    url, script = server
    monkeypatch.setenv("RADLABEL_TEACHER_API_KEY", "sekret")
    out = teacher(url, tmp_path / "c").teach(reports(3))
    assert all(isinstance(r, TeacherLabel) for r in out)
    assert [r.id for r in out] == ["r0", "r1", "r2"]
    first = out[0]
    assert isinstance(first, TeacherLabel)
    assert first.u == GOOD["u"] and first.schema_version == "1"
    assert first.prompt_version == prompt_version(load_schema())
    assert script.requests[0]["path"] == "/v1/chat/completions"
    assert script.requests[0]["auth"] == "Bearer sekret"
    assert script.requests[0]["body"]["response_format"] == {"type": "json_object"}  # type: ignore[index]


def test_cache_hit_costs_no_request_and_resumes(server, tmp_path):
    url, script = server
    cache = tmp_path / "c"
    teacher(url, cache).teach(reports(2))
    assert len(script.requests) == 2
    again = teacher(url, cache)
    out = again.teach(reports(4))  # two cached, two new: an interrupted run resumes
    assert again.requests_sent == 2 and len(script.requests) == 4
    assert all(isinstance(r, TeacherLabel) for r in out)


def test_malformed_answer_is_retried_then_recorded(server, tmp_path):
    url, script = server
    rs = reports(2)
    script.plan[rs[0].text] = ["malformed"]  # one bad answer, then fine
    script.plan[rs[1].text] = ["malformed", "badkey", "malformed"]  # never valid
    out = teacher(url, tmp_path / "c", max_invalid=2).teach(rs)
    assert isinstance(out[0], TeacherLabel)
    assert isinstance(out[1], TeacherFailure) and "invalid answer" in out[1].reason
    ok, bad = write_results(out, tmp_path / "labels.jsonl")
    assert (ok, bad) == (1, 1)
    failure = json.loads((tmp_path / "labels.failures.jsonl").read_text())
    assert failure["id"] == "r1" and failure["reason"]


def test_429_and_500_are_retried(server, tmp_path):
    url, script = server
    rs = reports(1)
    script.plan[rs[0].text] = ["429", "500", "ok"]
    out = teacher(url, tmp_path / "c").teach(rs)
    assert isinstance(out[0], TeacherLabel)
    assert len(script.requests) == 3


def test_timeout_is_retried_then_gives_up(server, tmp_path):
    url, script = server
    rs = reports(2)
    script.plan[rs[0].text] = ["stall", "ok"]
    script.plan[rs[1].text] = ["stall"] * 5
    out = teacher(url, tmp_path / "c", max_retries=2).teach(rs)
    assert isinstance(out[0], TeacherLabel)
    assert isinstance(out[1], TeacherFailure) and "ReadTimeout" in out[1].reason


def test_parse_answer_validation():
    s = load_schema()
    assert parse_answer("```json\n" + json.dumps(GOOD) + "\n```", s)[0] == GOOD["u"]
    for bad in ("[]", '{"u": {"cardiomegaly": 4}}', '{"u": {"cardiomegaly": true}}', '{"x": 1}'):
        with pytest.raises(InvalidAnswer):
            parse_answer(bad, s)


def test_config_refuses_bad_url(tmp_path):
    with pytest.raises(ValueError, match="http"):
        OpenAITeacherConfig(base_url="localhost:8000", model="m", cache_dir=tmp_path)
