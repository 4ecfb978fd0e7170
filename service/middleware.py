"""Pure ASGI middleware: request ids, access log and request metrics, and the body size limit.

Pure ASGI rather than `BaseHTTPMiddleware`: it wraps every request, so it must add little.
The access log is one JSON line per request (route template, method, status, duration,
reports, request id) and never holds report text, report ids or raw paths.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import OnFailure, error_response
from service.metrics import ServiceMetrics

access = logging.getLogger("radlabel.access")

_RID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class ObserveMiddleware:
    """Request id in and out (`X-Request-ID`), request counter and latency, one access-log line."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        rid = given if given and _RID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route_obj = scope.get("route")
            route = getattr(route_obj, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(route=route, method=method, code=str(status)).inc()
            self.metrics.latency.labels(route=route).observe(seconds)
            line = {
                "route": route,
                "method": method,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "reports": state.get("reports", 0),
                "request_id": rid,
            }
            if "error_code" in state:
                line["error"] = state["error_code"]
            access.info(json.dumps(line))


class BodyLimitMiddleware:
    """Refuse request bodies over a size limit with 413 in the error shape.

    Paths under `exempt` (archive uploads, which stream to disk under a limit of their own)
    pass through untouched; for the rest the body is read here, up to the limit, and replayed.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, on_failure: OnFailure, exempt: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_failure = on_failure
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        if self.exempt and str(scope.get("path", "")).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        state["error_code"] = "body_too_large"
        self.on_failure("body_too_large")
        response = error_response(
            413,
            "body_too_large",
            f"the request body exceeds {self.max_bytes} bytes",
            {"limit": self.max_bytes},
        )
        await response(scope, receive, send)
