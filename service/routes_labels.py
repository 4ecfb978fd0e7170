"""POST /v1/labels and GET /v1/model: validate, hand to the batcher, shape the answer.

No ML work here: the batcher (in the inference core) tokenizes, batches and labels; a route
only checks request-level limits, waits for its future off the event loop, and drops the
fields the client did not ask for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response

from labeler.records import Report, ReportLabels
from service.deps import LabellingDep, OwnerDep, RuntimeDep, SettingsDep
from service.errors import ApiError, ErrorResponse
from service.runtime import Runtime
from service.schemas import Include, LabelRequest, LabelResponse, Limits, ModelResponse

router = APIRouter(prefix="/v1", tags=["labels"])

# below this many characters, submitting (checks + token counts, ~0.1 ms) costs less than a
# hop to the thread pool; above it, it runs off the event loop
INLINE_CHARS = 8000

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse, "description": what}
    for code, what in {
        400: "empty or whitespace-only text, control characters, body not valid UTF-8 JSON",
        401: "no API key",
        403: "wrong API key",
        413: "body too large, too many reports, or a report over the character limit",
        415: "body not sent as application/json",
        422: "wrong types, unknown view or mapping",
        503: "model loading, or the queue is full (see Retry-After)",
    }.items()
}


async def label_or_abandon(
    runtime: Runtime,
    reports: list[Report],
    views: Sequence[str],
    mapping: str,
    request: Request,
    evidence: bool = True,
) -> list[ReportLabels]:
    """Queue the reports and wait for their labels; if the client goes away first, cancel them
    so they leave the queue without costing a run."""
    assert runtime.batcher is not None
    submit = partial(runtime.batcher.submit, reports, views, mapping, evidence=evidence)
    if sum(len(r.text) for r in reports) <= INLINE_CHARS:
        future = submit()
    else:  # checking and measuring a large request would hold up the event loop
        future = await asyncio.to_thread(submit)
    labelled = asyncio.wrap_future(future)

    async def gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher: asyncio.Future[None] = asyncio.ensure_future(gone())
    try:
        waiting: list[asyncio.Future[Any]] = [labelled, watcher]
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if labelled not in done:
        future.cancel()
        labelled.cancel()
        raise ApiError(499, "client_closed_request", "the client closed the connection")
    return labelled.result()


def dropped(include: Sequence[Include]) -> dict[str, Any] | None:
    """The `exclude` spec that leaves evidence and probabilities out unless asked for (no copies
    of the records: pydantic skips the fields while writing JSON)."""
    fields = {"evidence", "probs"} - set(include)
    if not fields:
        return None
    return {"results": {"__all__": {"findings": {"__all__": fields}}}}


@router.post(
    "/labels",
    response_model=LabelResponse,
    responses=ERRORS,
    summary="Label one report or several",
)
async def labels(body: LabelRequest, request: Request, ctx: LabellingDep) -> Response:
    """Every finding's status, certainty u, smoothing rate r and GLS target, per report, in input order."""
    runtime, settings = ctx.runtime, ctx.settings
    items = body.items()
    if len(items) > settings.max_reports_per_request:
        raise ApiError(
            413,
            "too_many_reports",
            f"{len(items)} reports in one request; the limit is {settings.max_reports_per_request}",
        )
    request.state.reports = len(items)
    reports = [Report(id=it.id or str(i), text=it.text) for i, it in enumerate(items)]
    wants = "evidence" in body.include  # spans cost ~10% of a run; most clients drop them
    records = await label_or_abandon(runtime, reports, body.view, body.status_mapping, request, wants)
    ctx.metrics.count_labels(records, runtime.schema)
    assert runtime.info is not None
    out = LabelResponse(model=runtime.info.name, schema=runtime.schema.version, results=records)
    return Response(
        out.model_dump_json(by_alias=True, exclude=dropped(body.include)), media_type="application/json"
    )


@router.get(
    "/model", response_model=ModelResponse, responses={401: ERRORS[401], 403: ERRORS[403], 503: ERRORS[503]}
)
async def model(_owner: OwnerDep, runtime: RuntimeDep, settings: SettingsDep) -> ModelResponse:
    """The model card summary, the label schema and the limits a client must respect."""
    schema, info = runtime.schema, runtime.info
    assert info is not None
    return ModelResponse(
        model=info.name,
        provider=info.provider,
        threads=info.threads,
        workers=info.workers,
        card=info.card,
        schema=schema.version,
        findings=schema.keys,
        derived=schema.derived.key,
        views={name: list(v.labels) for name, v in schema.views.items()},
        status_mappings=sorted(schema.status_mappings),
        smoothing={"k": schema.smoothing.k, "r0": schema.smoothing.r0},
        limits=Limits(
            max_reports_per_request=settings.max_reports_per_request,
            max_report_chars=settings.max_report_chars,
            max_body_bytes=settings.max_body_bytes,
        ),
    )
