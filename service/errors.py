"""One JSON error shape for every 4xx/5xx, and the one table that maps failures to it.

`{"error": {"code", "message", "details"?}}`: clients tell a bad report (4xx) from a model
that is down (503) by status and code, never by parsing text. FastAPI's own validation errors
and Starlette's HTTP errors are reshaped here too; stack traces never reach a client, and what
is logged names the error type and request id only (messages may quote report text or ids).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from labeler.errors import (
    InferenceError,
    InputTooLong,
    InvalidInput,
    LabelerError,
    ModelLoadError,
    Overloaded,
    SchemaMismatch,
)

log = logging.getLogger("radlabel.service")


class ErrorBody(BaseModel):
    """What went wrong."""

    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    """The error shape of every 4xx/5xx response."""

    error: ErrorBody


class ApiError(Exception):
    """A failure the web layer decides itself (auth, content type, limits, not ready)."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


# labeler error -> (status, code); the most specific class first
LABELER_ERRORS: list[tuple[type[LabelerError], int, str]] = [
    (InputTooLong, 413, "report_too_long"),
    (InvalidInput, 400, "invalid_input"),
    (Overloaded, 503, "overloaded"),
    (ModelLoadError, 503, "model_unavailable"),
    (InferenceError, 500, "inference_failed"),
    (SchemaMismatch, 500, "schema_mismatch"),
    (LabelerError, 500, "labeler_error"),
]

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}

OnFailure = Callable[[str], None]


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON response in the one error shape."""
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # no `input`/`ctx`: they echo the request (a 1 MB report would come back whole)
    return [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in exc.errors()]


def install(app: FastAPI, on_failure: OnFailure, retry_after_s: int = 1) -> None:
    """Register the handler table on an app.

    Args:
        app: the FastAPI app.
        on_failure: called with the error code of every 4xx/5xx (the failure counter).
        retry_after_s: Retry-After seconds for 503 answers.
    """

    def respond(request: Request, status: int, code: str, message: str, **kw: Any) -> JSONResponse:
        on_failure(code)
        request.state.error_code = code
        return error_response(status, code, message, **kw)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return respond(request, exc.status, exc.code, exc.message, details=exc.details, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return respond(request, 400, "invalid_json", "the request body is not valid JSON")
        return respond(
            request,
            422,
            "validation_error",
            "the request does not match the schema",
            details=_validation_details(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            code, message = "invalid_body", "the request body is not valid UTF-8 JSON"
        return respond(request, exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(LabelerError)
    async def _labeler(request: Request, exc: LabelerError) -> JSONResponse:
        status, code = next((s, c) for cls, s, c in LABELER_ERRORS if isinstance(exc, cls))
        headers = {"Retry-After": str(retry_after_s)} if status == 503 else None
        if status >= 500:
            log.error("labeler failure %s (request %s)", type(exc).__name__, _rid(request))
        return respond(request, status, code, str(exc), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the traceback's frames, not the exception message: messages may quote report text
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unexpected %s (request %s)\n%s", type(exc).__name__, _rid(request), frames)
        return respond(
            request, 500, "internal_error", "internal error; see the server log for this request id"
        )


def _rid(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))
