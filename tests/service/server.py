"""Start `radlabel serve` as a user would: a subprocess on a free loopback port.

Shared by the end-to-end tests and the service benchmark. The process's stderr (its JSON
log) is kept in a file so tests can check what was, and was not, logged.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

RADLABEL = str(Path(sys.executable).parent / "radlabel")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A running `radlabel serve` process."""

    def __init__(self, log: Path, env: dict[str, str] | None = None, args: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [RADLABEL, "serve", "--port", str(self.port), *(args or [])],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )

    def wait_live(self, timeout: float = 60) -> None:
        """Until /healthz answers."""
        self._wait("/healthz", timeout)

    def wait_ready(self, timeout: float = 120) -> None:
        """Until /readyz answers 200."""
        self._wait("/readyz", timeout)

    def _wait(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                resp = httpx.get(self.url + path, timeout=2)
            except httpx.HTTPError:
                resp = None
            if resp is not None and resp.status_code == 200:
                return
            if resp is not None and "model_unavailable" in resp.text:  # a failed load never turns ready
                raise RuntimeError(f"{path}: {resp.text}\n{self.log()}")
            time.sleep(0.05)
        raise TimeoutError(f"{path} not 200 after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)

    def metric(self, name: str, headers: dict[str, str] | None = None) -> float:
        """The sum of every sample of a metric (all label sets)."""
        text = httpx.get(self.url + "/metrics", headers=headers, timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total
