"""schemathesis against a live server from the committed openapi.yaml: no 5xx, every response
(status code, content type, headers, body) as the document says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.service.server import Server

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path):
    srv = Server(tmp_path / "log", env={"RADLABEL_MAX_REPORTS_PER_REQUEST": "16"})
    try:
        srv.wait_ready()
        st = Path(sys.executable).parent / "st"
        proc = subprocess.run(
            [
                str(st),
                "run",
                str(ROOT / "openapi.yaml"),
                "--url",
                srv.url,
                "-c",
                CHECKS,
                "-n",
                "60",
                "--seed",
                "13",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert " passed" in proc.stdout and "failed" not in proc.stdout.split("SUMMARY")[-1]
        assert srv.proc.poll() is None and "Traceback" not in srv.log()
    finally:
        srv.terminate()
