"""End to end: a real `radlabel serve` on loopback, driven over HTTP as a client would."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time

import httpx
import pytest

from labeler.bundles import embedded_bundle
from labeler.model.labeler import ModelLabeler
from labeler.records import Report
from tests.service.conftest import KEY
from tests.service.server import RADLABEL, Server, free_port

NOTE = (
    "FINDINGS: Mild cardiomegaly. Small left pleural effusion.\nIMPRESSION: Possible left basilar pneumonia."
)


def post(srv: Server, body: object, **kw: object) -> httpx.Response:
    return httpx.post(srv.url + "/v1/labels", json=body, timeout=30, **kw)  # type: ignore[arg-type]


def error_of(resp: httpx.Response) -> dict[str, object]:
    body = resp.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]


def test_single_and_multi_report_labels_match_the_library(server, dev_reports):
    direct = ModelLabeler.from_bundle(embedded_bundle())
    one = post(server, {"text": NOTE, "id": "r1", "include": ["evidence", "probs"]})
    assert one.status_code == 200
    body = one.json()
    assert body["schema"] == "1" and body["model"] == direct.name
    [rec] = body["results"]
    expected = direct.label([Report(id="r1", text=NOTE)])[0].model_dump(by_alias=True)
    assert rec == expected  # the same record as the CLI writes
    assert (
        rec["findings"]["cardiomegaly"]["status"] == "present" and rec["findings"]["cardiomegaly"]["u"] == 3
    )
    many = [{"id": r["id"], "text": r["text"]} for r in dev_reports[:30]]
    resp = post(server, {"reports": many, "include": ["probs"]})
    assert resp.status_code == 200
    got = resp.json()["results"]
    assert [r["id"] for r in got] == [r["id"] for r in many]
    lib = direct.label([Report(**r) for r in many])
    # other batch mates than the library's sorted runs: int8 dynamic quantization scales activations
    # per batch, so probabilities move (up to 0.04 seen) while these reports' decisions stay
    assert [{k: (f["status"], f["u"]) for k, f in r["findings"].items()} for r in got] == [
        {k: (f.status, f.u) for k, f in r.findings.items()} for r in lib
    ]
    # ids default to positions
    resp = post(server, {"reports": [{"text": "No pneumothorax."}, {"text": "Cardiomegaly."}]})
    assert [r["id"] for r in resp.json()["results"]] == ["0", "1"]


def test_views_mappings_and_include(server):
    text = "FINDINGS: Probable right lower lobe pneumonia. No pneumothorax."
    plain = post(server, {"text": text}).json()["results"][0]
    assert plain["views"] is None and "probs" not in plain["findings"]["pneumonia"]
    both = post(server, {"text": text, "view": ["chexpert14", "luvit14"], "include": "probs"}).json()
    rec = both["results"][0]
    assert set(rec["views"]) == {"chexpert14", "luvit14"}
    assert len(rec["findings"]["pneumonia"]["probs"]) == 8
    assert rec["findings"]["pneumonia"]["u"] == 2 and rec["findings"]["pneumonia"]["status"] == "present"
    chex = post(server, {"text": text, "status_mapping": "chexpert", "view": "chexpert14"}).json()["results"][
        0
    ]
    assert chex["findings"]["pneumonia"]["u"] == 2 and chex["findings"]["pneumonia"]["status"] == "uncertain"
    assert chex["views"]["chexpert14"]["Pneumonia"]["status"] == "uncertain"


def test_model_endpoint_describes_model_schema_and_limits(server):
    body = httpx.get(server.url + "/v1/model").json()
    assert body["schema"] == "1" and len(body["findings"]) == 17 and body["derived"] == "no_finding"
    assert set(body["views"]) == {"chexpert14", "luvit14"} and body["status_mappings"] == [
        "chexpert",
        "default",
    ]
    assert body["limits"] == {
        "max_reports_per_request": 64,
        "max_report_chars": 20000,
        "max_body_bytes": 262144,
    }
    assert body["card"]["sha256"].startswith(body["model"].split("/")[-1])
    assert body["workers"] == 2 and body["threads"] == max(1, len(os.sched_getaffinity(0)) // 2)
    assert 0.9 < body["card"]["dev_metrics"]["macro_f1"] < 1
    assert body["card"]["variant"] == "int8" and "non-commercial" in body["card"]["licence"]
    assert body["smoothing"] == {"k": 0.417, "r0": 1.0}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"text": ""}}, 400, "invalid_input"),
        ({"json": {"text": " \n\t "}}, 400, "invalid_input"),
        ({"json": {"text": "No effusion.\u0000"}}, 400, "invalid_input"),
        ({"content": b'{"text": "no', "headers": {"content-type": "application/json"}}, 400, "invalid_json"),
        (
            {"content": b'{"text": "\xff\xfe"}', "headers": {"content-type": "application/json"}},
            400,
            "invalid_body",
        ),
        (
            {"content": b'{"text": "x"}', "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ({"json": {"text": 3}}, 422, "validation_error"),
        ({"json": {"text": "x", "view": "nope"}}, 422, "validation_error"),
        ({"json": {"text": "x", "status_mapping": "strict"}}, 422, "validation_error"),
        ({"json": {"text": "x", "reports": []}}, 422, "validation_error"),
        ({"json": {"reports": [{"text": "x"}] * 65}}, 413, "too_many_reports"),
        ({"json": {"text": "x" * 20001}}, 413, "report_too_long"),
        ({"json": {"text": "x" * 300_000}}, 413, "body_too_large"),
    ],
)
def test_every_error_class_has_its_status_and_shape(server, kwargs, status, code):
    resp = httpx.post(server.url + "/v1/labels", timeout=30, **kwargs)
    assert resp.status_code == status, resp.text
    assert error_of(resp)["code"] == code
    assert "Traceback" not in resp.text


def test_unknown_route_and_method_use_the_error_shape(server):
    assert error_of(httpx.get(server.url + "/v1/nope"))["code"] == "not_found"
    resp = httpx.get(server.url + "/v1/labels")
    assert resp.status_code == 405 and error_of(resp)["code"] == "method_not_allowed"


def test_request_id_is_echoed_or_made(server):
    resp = post(server, {"text": NOTE}, headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    assert len(post(server, {"text": NOTE}).headers["x-request-id"]) == 32


def test_metrics_after_traffic_and_no_report_text_or_ids_anywhere(server):
    secret_id, secret_text = "patient-7f3a9", "Zebrafinch opacity in the left apex. No pneumothorax."
    before = server.metric("radlabel_reports_total")
    assert post(server, {"text": secret_text, "id": secret_id}).status_code == 200
    post(server, {"text": ""})
    text = httpx.get(server.url + "/metrics").text
    for name in (
        "radlabel_requests_total",
        "radlabel_request_duration_seconds_bucket",
        "radlabel_queue_wait_seconds_bucket",
        "radlabel_inference_seconds_bucket",
        "radlabel_batch_size_bucket",
        "radlabel_queue_depth",
        "radlabel_tokens_total",
        "radlabel_truncated_reports_total",
        "radlabel_model_info",
    ):
        assert name in text, name
    assert server.metric("radlabel_reports_total") == before + 1
    assert 'radlabel_labels_total{finding="pneumothorax",status="absent"}' in text
    assert 'radlabel_requests_total{code="400",method="POST",route="/v1/labels"}' in text
    assert 'radlabel_request_failures_total{error_type="invalid_input"}' in text
    time.sleep(0.2)
    log = server.log()
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    access = [x for x in lines if x["logger"] == "radlabel.access" and x["route"] == "/v1/labels"]
    assert access and {"route", "method", "status", "duration_ms", "reports", "request_id"} <= set(access[-1])
    for haystack in (text, log):
        assert secret_id not in haystack and "Zebrafinch" not in haystack


def test_concurrent_clients_are_coalesced_into_batches(server, dev_reports):
    runs0, reports0 = server.metric("radlabel_batch_size_count"), server.metric("radlabel_batch_size_sum")

    async def client(i: int, http: httpx.AsyncClient) -> int:
        r = dev_reports[i % len(dev_reports)]
        resp = await http.post(server.url + "/v1/labels", json={"text": r["text"], "id": r["id"]})
        return resp.status_code

    async def main() -> list[int]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as http:
            codes: list[int] = []
            for _ in range(4):
                codes += await asyncio.gather(*(client(i, http) for i in range(32)))
            return codes

    assert set(asyncio.run(main())) == {200}
    runs = server.metric("radlabel_batch_size_count") - runs0
    reports = server.metric("radlabel_batch_size_sum") - reports0
    assert reports == 128 and runs < reports  # mean batch size > 1


def test_readiness_is_503_until_warm(tmp_path):
    srv = Server(tmp_path / "log", env={"RADLABEL_WARMUP_ROUNDS": "150"})
    try:
        srv.wait_live()
        resp = httpx.get(srv.url + "/readyz")
        assert resp.status_code == 503 and error_of(resp)["code"] == "not_ready"
        assert resp.headers["retry-after"] == "1"
        early = post(srv, {"text": NOTE})
        assert early.status_code == 503 and error_of(early)["code"] == "not_ready"
        assert httpx.get(srv.url + "/healthz").json() == {"status": "ok"}
        srv.wait_ready()
        assert post(srv, {"text": NOTE}).status_code == 200
    finally:
        srv.terminate()


def test_a_character_limit_shorter_than_the_warm_up_reports_still_turns_ready(tmp_path):
    # the warm-up's own reports (89 and ~1,600 characters) are cut to the limit, not refused
    srv = Server(tmp_path / "log", env={"RADLABEL_MAX_REPORT_CHARS": "40"})
    try:
        srv.wait_ready(timeout=60)
        short = post(srv, {"text": "Heart size is enlarged."})
        assert short.status_code == 200, short.text
        assert short.json()["results"][0]["findings"]["cardiomegaly"]["status"] == "present"
        long = post(srv, {"text": "x" * 41})
        assert long.status_code == 413 and error_of(long)["code"] == "report_too_long"
    finally:
        srv.terminate()


def test_full_queue_answers_503_with_retry_after(tmp_path, dev_reports):
    srv = Server(
        tmp_path / "log",
        env={"RADLABEL_QUEUE_CAPACITY": "8", "RADLABEL_MAX_WAIT_MS": "400", "RADLABEL_MAX_BATCH_SIZE": "64"},
    )
    try:
        srv.wait_ready()
        body = {"reports": [{"text": r["text"]} for r in dev_reports[:5]]}

        async def main() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as http:
                return await asyncio.gather(*(http.post(srv.url + "/v1/labels", json=body) for _ in range(6)))

        responses = asyncio.run(main())
        codes = sorted(r.status_code for r in responses)
        assert 200 in codes and 503 in codes, codes
        refused = next(r for r in responses if r.status_code == 503)
        assert error_of(refused)["code"] == "overloaded" and refused.headers["retry-after"] == "1"
        assert httpx.get(srv.url + "/readyz").status_code == 200
    finally:
        srv.terminate()


def test_sigterm_drains_in_flight_requests(tmp_path, dev_reports):
    srv = Server(tmp_path / "log", env={"RADLABEL_MAX_WAIT_MS": "800", "RADLABEL_MAX_BATCH_SIZE": "64"})
    srv.wait_ready()
    body = {"reports": [{"id": r["id"], "text": r["text"]} for r in dev_reports[:20]]}

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as http:
            task = asyncio.ensure_future(http.post(srv.url + "/v1/labels", json=body))
            await asyncio.sleep(0.3)  # the request waits in the batcher for its batch to fill
            srv.proc.send_signal(15)
            return await task

    resp = asyncio.run(main())
    assert resp.status_code == 200 and len(resp.json()["results"]) == 20
    # it exits by itself; uvicorn re-raises the captured SIGTERM once shut down, hence -15
    assert srv.proc.wait(30) in (0, -15)
    assert "Application shutdown complete" in srv.log()
    srv.terminate()
    with pytest.raises(httpx.HTTPError):
        httpx.get(srv.url + "/healthz", timeout=2)


def test_disconnected_client_leaves_no_work_behind(tmp_path, dev_reports):
    srv = Server(tmp_path / "log", env={"RADLABEL_MAX_WAIT_MS": "600", "RADLABEL_MAX_BATCH_SIZE": "64"})
    try:
        srv.wait_ready()
        before = srv.metric("radlabel_reports_total")
        payload = json.dumps({"reports": [{"text": r["text"]} for r in dev_reports[:10]]}).encode()
        with socket.create_connection(("127.0.0.1", srv.port)) as sock:
            head = (
                f"POST /v1/labels HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            sock.sendall(head + payload)
            time.sleep(0.15)
        time.sleep(1.2)  # past the batch wait: an abandoned request would have run by now
        assert srv.metric("radlabel_reports_total") == before
        assert srv.metric("radlabel_queue_depth") == 0
        assert post(srv, {"text": NOTE}).status_code == 200
        assert srv.metric("radlabel_reports_total") == before + 1
    finally:
        srv.terminate()


def test_auth_keys_401_403_and_open_health(keyed_server):
    srv = keyed_server
    assert post(srv, {"text": NOTE}).status_code == 401
    assert error_of(post(srv, {"text": NOTE}))["code"] == "unauthorized"
    bad = post(srv, {"text": NOTE}, headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 403 and error_of(bad)["code"] == "forbidden"
    assert post(srv, {"text": NOTE}, headers={"Authorization": "Basic abc"}).status_code == 401
    for key in (KEY, "second-key"):
        assert post(srv, {"text": NOTE}, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.get(srv.url + "/v1/model").status_code == 401
    assert (
        httpx.get(srv.url + "/healthz").status_code == 200
        and httpx.get(srv.url + "/readyz").status_code == 200
    )
    assert httpx.get(srv.url + "/metrics").status_code == 401
    assert httpx.get(srv.url + "/metrics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert KEY not in srv.log()


def test_non_loopback_bind_without_keys_refuses_to_start(tmp_path):
    proc = subprocess.run(
        [RADLABEL, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "without API keys" in proc.stderr


def test_rules_labeler_serves_evidence(tmp_path):
    srv = Server(tmp_path / "log", args=["--labeler", "rules"])
    try:
        srv.wait_ready()
        body = post(srv, {"text": NOTE, "include": ["evidence"]}).json()
        assert body["model"] == "rules/1"
        ev = body["results"][0]["findings"]["pleural_effusion"]["evidence"]
        assert ev and NOTE[ev[0]["start"] : ev[0]["end"]] == ev[0]["text"]
        plain = post(srv, {"text": NOTE}).json()["results"][0]["findings"]["pleural_effusion"]
        assert "evidence" not in plain and plain["u"] == 3
    finally:
        srv.terminate()
