"""Operations routes: liveness, readiness, Prometheus metrics, and the label inspector page.

/healthz and /readyz stay open (orchestrators probe them without keys); /metrics is open or
key-protected by setting. The inspector is one static HTML file shipped with the package.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.deps import MetricsDep, SettingsDep, get_runtime, require_key
from service.errors import ErrorResponse
from service.schemas import HealthResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is alive (says nothing about the model)."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": ErrorResponse}})
async def readyz(request: Request) -> HealthResponse:
    """The model is loaded and warmed up; 503 before."""
    await get_runtime(request)
    return HealthResponse(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}},
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
    },
)
async def metrics(request: Request, settings: SettingsDep, m: MetricsDep) -> Response:
    """Prometheus metrics (text exposition format)."""
    if settings.metrics_auth:
        await require_key(request, None)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def inspector() -> HTMLResponse:
    """The label inspector: paste a report, see its labels and evidence."""
    page = resources.files("service").joinpath("static/index.html").read_text(encoding="utf-8")
    return HTMLResponse(page)
