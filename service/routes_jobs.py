"""Archive jobs over HTTP: upload, poll, download results / errors / noise profile, cancel.

An upload is streamed to disk (`service.upload`), registered in the job store and picked up by
the worker (`service.jobrunner`). A job belongs to the API key that created it: any other key
gets 404, as if the job did not exist. Downloads stream committed chunks, so they work while
the job runs and hold one chunk in memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from labeler.manifest import manifest_table
from labeler.profile import NoiseProfile
from service import jobresults
from service.deps import MetricsDep, OwnerDep, SettingsDep
from service.errors import ApiError, ErrorResponse
from service.jobfiles import JobFiles
from service.jobstore import Job, JobStore
from service.runtime import Runtime
from service.schemas import JobAccepted, JobList, JobStatus, MappingName, ResultFormat, ViewName
from service.upload import RAW_TYPES, receive_archive

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no API key"},
    403: {"model": ErrorResponse, "description": "wrong API key"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **AUTH,
    404: {"model": ErrorResponse, "description": "no such job for this API key"},
}

UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "the archive: JSONL, CSV or Parquet with id and text",
                    }
                },
            }
        },
        **{kind: {"schema": {"type": "string", "format": "binary"}} for kind in RAW_TYPES},
    },
}


def stores(request: Request) -> tuple[JobStore, JobFiles]:
    """The job store and files (open from startup on)."""
    runtime: Runtime = request.app.state.runtime
    if runtime.store is None or runtime.files is None:
        raise ApiError(503, "not_ready", "the service is starting; retry shortly")
    return runtime.store, runtime.files


StoresDep = Annotated[tuple[JobStore, JobFiles], Depends(stores)]


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def status(job: Job, request: Request) -> JobStatus:
    """The API view of a job."""
    rate = job.rows_done / job.busy_seconds if job.busy_seconds > 0 else None
    eta = None
    if job.state == "running" and rate and job.total is not None:
        eta = max(job.total - job.rows_done, 0) / rate
    url = str(request.url_for("job_results", job_id=job.id))
    return JobStatus(
        id=job.id,
        state=job.state,
        done=job.rows_done,
        total=job.total,
        labelled=job.labelled,
        errors=job.errors,
        reports_per_s=None if rate is None else round(rate, 2),
        eta_s=None if eta is None else round(eta, 1),
        created=_iso(job.created) or "",
        started=_iso(job.started),
        finished=_iso(job.finished),
        format=job.format,
        view=job.views,
        status_mapping=job.mapping,
        input_bytes=job.input_bytes,
        reason=job.reason,
        results=url,
    )


def owned(store: JobStore, job_id: str, owner: str) -> Job:
    """The caller's job, or 404 (also for another key's job: its existence is not revealed)."""
    job = store.get(job_id, owner)
    if job is None:
        raise ApiError(404, "job_not_found", "no such job for this API key")
    return job


def committed_chunks(store: JobStore, files: JobFiles, job: Job) -> list[Path]:
    """The result files of the job's committed chunks, in input order."""
    return [files.chunk(job.id, n) for n in store.committed(job.id)]


@router.post(
    "",
    status_code=202,
    response_model=JobAccepted,
    responses={
        **AUTH,
        400: {"model": ErrorResponse, "description": "malformed multipart body, empty or unreadable archive"},
        413: {"model": ErrorResponse, "description": "archive over the upload limit"},
        415: {"model": ErrorResponse, "description": "not JSONL, CSV or Parquet"},
        422: {"model": ErrorResponse, "description": "unknown view or mapping"},
    },
    openapi_extra={"requestBody": UPLOAD_BODY},
    summary="Upload an archive to label",
)
async def create_job(
    request: Request,
    owner: OwnerDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    jobs: StoresDep,
    view: Annotated[list[ViewName], Query(description="views to add to the results")] = [],  # noqa: B006
    status_mapping: Annotated[MappingName, Query(description="status mapping of the results")] = "default",
) -> Response:
    """Store the archive (JSONL, CSV or Parquet with id and text), queue it, answer 202 at once."""
    store, files = jobs
    job_id = store.new_id()
    part = files.dir(job_id) / "upload.part"
    try:
        fmt, size = await receive_archive(request, part, settings.max_upload_bytes)
        part.rename(files.input(job_id, fmt))
        store.create(job_id, owner, fmt, list(view), status_mapping, size)
    except BaseException:
        files.remove(job_id)
        raise
    metrics.jobs.inc()
    runtime: Runtime = request.app.state.runtime
    if runtime.jobs is not None:
        runtime.jobs.wake()
    url = str(request.url_for("job_status", job_id=job_id))
    body = JobAccepted(id=job_id, state="queued", url=url)
    return Response(
        body.model_dump_json(), status_code=202, media_type="application/json", headers={"Location": url}
    )


@router.get("", response_model=JobList, responses=AUTH, summary="List your jobs")
async def list_jobs(request: Request, owner: OwnerDep, jobs: StoresDep) -> JobList:
    """The caller's jobs, newest first (100 at most)."""
    return JobList(jobs=[status(j, request) for j in jobs[0].of_owner(owner)])


@router.get("/{job_id}", response_model=JobStatus, responses=NOT_FOUND, name="job_status")
async def get_job(job_id: str, request: Request, owner: OwnerDep, jobs: StoresDep) -> JobStatus:
    """State, progress, rate and ETA of a job."""
    return status(owned(jobs[0], job_id, owner), request)


@router.get(
    "/{job_id}/results",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {
            "description": "the labels so far (all of them once the job is done)",
            "content": {media: {} for media in jobresults.MEDIA.values()},
        },
    },
    name="job_results",
)
async def job_results(
    job_id: str,
    owner: OwnerDep,
    jobs: StoresDep,
    settings: SettingsDep,
    request: Request,
    format: Annotated[
        ResultFormat, Query(description="jsonl records, CheXpert CSV, or the Parquet GLS manifest")
    ] = "jsonl",
) -> StreamingResponse:
    """Stream what is labelled: JSONL records, CSV (1/0/-1/blank + u columns) or the Parquet manifest."""
    store, files = jobs
    job = owned(store, job_id, owner)
    schema = request.app.state.runtime.schema
    paths = committed_chunks(store, files, job)
    stream: Iterator[bytes]
    if format == "jsonl":
        stream = jobresults.jsonl(paths, schema, job.views, job.mapping)
    elif format == "csv":
        stream = jobresults.csv_rows(paths, schema, job.views, job.mapping)
    else:
        runtime: Runtime = request.app.state.runtime
        name = runtime.info.name if runtime.info else ""
        sha = str(runtime.info.card.get("sha256", "")) if runtime.info else ""
        empty = manifest_table([], schema, job.views, job.mapping, name, sha)
        stream = jobresults.parquet(paths, empty)
    filename = f"radlabel-{job.id}.{format}"
    return StreamingResponse(
        stream,
        media_type=jobresults.MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Job-State": job.state},
    )


@router.get(
    "/{job_id}/errors",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {"description": "one JSON object per refused row", "content": {"application/x-ndjson": {}}},
    },
)
async def job_errors(job_id: str, owner: OwnerDep, jobs: StoresDep) -> StreamingResponse:
    """Rows that could not be labelled: `{"line", "id", "reason"}` per line, in input order."""
    store, _ = jobs
    job = owned(store, job_id, owner)
    rows = store.errors(job.id)

    def lines() -> Iterator[bytes]:
        for line, rid, reason in rows:
            yield (json.dumps({"line": line, "id": rid, "reason": reason}) + "\n").encode("utf-8")

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get(
    "/{job_id}/profile",
    response_model=NoiseProfile,
    responses={
        **NOT_FOUND,
        200: {
            "content": {"application/json": {}, "image/png": {}},
            "description": "the profile or its chart",
        },
        501: {"model": ErrorResponse, "description": "png asked for, matplotlib not installed"},
    },
)
async def job_profile(
    job_id: str,
    owner: OwnerDep,
    jobs: StoresDep,
    request: Request,
    format: Annotated[Literal["json", "png"], Query(description="the numbers, or a chart of them")] = "json",
) -> Response:
    """The label-noise profile of what the job has labelled: per finding and view label the counts
    by u and status, hedged share, expected flip rate and not-mentioned share (or a PNG chart)."""
    store, files = jobs
    job = owned(store, job_id, owner)
    paths = committed_chunks(store, files, job)
    schema = request.app.state.runtime.schema
    result = await asyncio.to_thread(jobresults.job_profile, paths, schema, job.views, job.mapping)
    if format == "json":
        return Response(result.model_dump_json(), media_type="application/json")
    try:
        png = await asyncio.to_thread(jobresults.profile_png, result)
    except ImportError as exc:
        raise ApiError(
            501, "not_installed", "the chart needs matplotlib: pip install 'radlabel[archive]'"
        ) from exc
    return Response(png, media_type="image/png")


@router.delete(
    "/{job_id}",
    response_model=JobStatus,
    responses={**NOT_FOUND, 409: {"model": ErrorResponse, "description": "the job already finished"}},
)
async def cancel_job(job_id: str, owner: OwnerDep, jobs: StoresDep, request: Request) -> JobStatus:
    """Cancel a queued or running job; what it labelled stays downloadable."""
    store, _ = jobs
    job = owned(store, job_id, owner)
    if not store.finish(job.id, "cancelled", "cancelled by the client"):
        raise ApiError(409, "job_finished", f"the job is already {job.state}")
    runtime: Runtime = request.app.state.runtime
    if runtime.jobs is not None:
        runtime.jobs.wake()
    return status(owned(store, job_id, owner), request)
