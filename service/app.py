"""The FastAPI app factory: settings in, app out; heavy objects built in `lifespan`.

`create_app(settings)` wires the error table, middleware and routes; the labeler loads in the
background once the server starts (see `service.runtime`), and shutdown drains the batcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from labeler import __version__
from service import errors
from service.auth import KeyRing
from service.metrics import ServiceMetrics
from service.middleware import BodyLimitMiddleware, ObserveMiddleware
from service.routes_jobs import router as jobs_router
from service.routes_labels import router as labels_router
from service.routes_ops import router as ops_router
from service.runtime import Runtime
from service.settings import ServiceSettings

DESCRIPTION = """Label chest X-ray reports: for every finding of the schema, a status
(present / absent / uncertain / not_mentioned), the radiologist's certainty u (-3..+3), and the
GLS smoothing rate r and soft target. Errors share one shape: `{"error": {"code", "message", "details"?}}`."""


def create_app(settings: ServiceSettings) -> FastAPI:
    """Build the app for one set of settings.

    Raises:
        ValueError: a non-loopback bind without API keys, or a malformed key entry.
    """
    keys = KeyRing.load(settings.api_keys, settings.api_key_file)
    if not settings.loopback and not keys.enabled:
        raise ValueError(
            f"refusing to serve on {settings.host} without API keys: set RADLABEL_API_KEYS or "
            "RADLABEL_API_KEY_FILE, or bind to 127.0.0.1"
        )
    metrics = ServiceMetrics()
    runtime = Runtime(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        yield
        runtime.stop()

    app = FastAPI(title="radlabel", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.runtime = runtime
    app.state.keys = keys
    errors.install(app, lambda code: metrics.failures.labels(error_type=code).inc(), settings.retry_after_s)
    app.include_router(labels_router)
    app.include_router(jobs_router)
    app.include_router(ops_router)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        exempt=["/v1/jobs"],  # archive uploads stream to disk under max_upload_bytes
        on_failure=lambda code: metrics.failures.labels(error_type=code).inc(),
    )
    app.add_middleware(ObserveMiddleware, metrics=metrics)  # outermost: sees every answer
    return app
