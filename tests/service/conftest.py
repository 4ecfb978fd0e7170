"""Servers for the end-to-end tests: real `radlabel serve` processes on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.server import Server

KEY = "test-key-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default service: embedded default model, loopback, no keys, small limits to test them."""
    tmp: Path = tmp_path_factory.mktemp("server")
    srv = Server(
        tmp / "server.log",
        env={
            "RADLABEL_MAX_REPORTS_PER_REQUEST": "64",
            "RADLABEL_MAX_BODY_BYTES": "262144",
            "RADLABEL_MAX_REPORT_CHARS": "20000",
            "RADLABEL_MAX_WAIT_MS": "20",
            "RADLABEL_WORKERS": "2",  # runs side by side, as on any multi-core machine
        },
    )
    srv.wait_ready()
    yield srv
    srv.terminate()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Keys on (one given as plain text, one as a hash in a key file), metrics behind a key."""
    from service.auth import hash_key

    tmp: Path = tmp_path_factory.mktemp("keyed")
    keyfile = tmp / "keys.txt"
    keyfile.write_text(f"# radlabel keys\n{hash_key('second-key')}\n")
    srv = Server(
        tmp / "server.log",
        env={
            "RADLABEL_API_KEYS": KEY,
            "RADLABEL_API_KEY_FILE": str(keyfile),
            "RADLABEL_METRICS_AUTH": "true",
        },
    )
    srv.wait_ready()
    yield srv
    srv.terminate()
