"""Every knob of the HTTP service, read from `RADLABEL_*` environment variables and `.env`.

One pydantic-settings class, built explicitly by `radlabel serve` (or a test) and handed to
`create_app`; nothing reads the environment at import time. Validators fail fast on values
that could only misbehave later (a bundle that does not exist, a key file that cannot be read).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from labeler.bundles import default_bundle


class ServiceSettings(BaseSettings):
    """Configuration of one radlabel service process."""

    model_config = SettingsConfigDict(
        env_prefix="RADLABEL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    model: Path = Field(
        default_factory=default_bundle,
        description="model bundle directory ($RADLABEL_MODEL; the embedded default bundle when unset)",
    )
    labeler: Literal["model", "rules"] = Field("model", description="the student model or the rule labeler")
    provider: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="ONNX Runtime execution provider: auto = CUDA when onnxruntime-gpu sees a GPU"
    )
    variant: Literal["auto", "fp32", "int8", "fp16"] = Field(
        "auto", description="bundle file to run: auto = int8 on CPU, fp16 (else fp32) on CUDA"
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="ONNX Runtime intra-op threads per worker (unset: 1 when several workers run on a CPU, "
        "else all cores)",
    )
    workers: int | None = Field(
        None,
        ge=1,
        le=256,
        description="labeler runs in flight at once, sharing one ONNX session (unset: one per usable core "
        "divided by threads on a CPU, 1 on CUDA; the rule labeler always runs 1). Usable cores: the CPU "
        "affinity capped by the cgroup's CPU quota (docker --cpus), rounded up",
    )
    spinning: bool = Field(
        False, description="let idle ONNX Runtime threads busy-wait (starves the event loop on few cores)"
    )
    max_batch_size: int = Field(
        64, ge=1, le=1024, description="reports coalesced into one labeler call at most (dynamic batching)"
    )
    run_batch_size: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="reports per ONNX Runtime run inside a call, sorted by length (unset: 4 for one-thread "
        "CPU workers, 8 otherwise; padding costs more than larger runs gain on CPU; raise it on a GPU)",
    )
    max_wait_ms: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="how long the oldest queued report waits for a batch to fill (0: run at once; "
        "under load batches still form from what queues while a run is busy; a few ms can pay on a GPU)",
    )
    max_batch_tokens: int = Field(
        16384, ge=64, description="padded tokens per run at most (reports x longest report)"
    )
    max_report_chars: int = Field(20_000, ge=1, description="the longest report text accepted (characters)")
    max_reports_per_request: int = Field(256, ge=1, description="reports per POST /v1/labels at most")
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="request body size limit of the JSON endpoints (bytes)"
    )
    queue_capacity: int = Field(
        2048, ge=1, description="reports waiting for the labeler at most; more are refused with 503"
    )
    warmup_rounds: int = Field(3, ge=0, description="warm-up runs before /readyz reports ready")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="API keys, comma-separated: plain keys or `sha256:<hex>` of them (only hashes are kept)",
    )
    api_key_file: Path | None = Field(
        None, description="a file of API keys, one per line (plain or sha256:<hex>)"
    )
    host: str = Field("127.0.0.1", description="bind address; anything but loopback requires API keys")
    port: int = Field(8000, ge=0, le=65535, description="bind port")
    metrics_auth: bool = Field(False, description="require an API key for GET /metrics")
    keep_alive_s: float = Field(
        75.0,
        gt=0,
        description="idle keep-alive connections are closed after this long (uvicorn's 5 s default races "
        "clients that reuse a connection just as it closes)",
    )
    drain_timeout_s: float = Field(
        30.0, ge=0, description="on SIGTERM, how long in-flight requests may finish"
    )
    retry_after_s: int = Field(
        1, ge=1, description="Retry-After seconds sent with 503 when the queue is full"
    )

    data_dir: Path = Field(
        Path("radlabel-data"),
        description="archive jobs: the SQLite state, stored uploads and result chunks live here",
    )
    max_upload_bytes: int = Field(
        2 * 1024**3, ge=1024, description="largest archive accepted by POST /v1/jobs (bytes)"
    )
    job_chunk_rows: int = Field(
        256, ge=1, le=100_000, description="input rows per committed chunk of an archive job"
    )
    job_batch_size: int = Field(
        16,
        ge=1,
        le=1024,
        description="reports per background run of an archive job at most: an interactive request "
        "arriving meanwhile waits for one such run",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, v: object) -> object:
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @model_validator(mode="after")
    def _check(self) -> ServiceSettings:
        if self.labeler == "model" and not (self.model / "labeler_config.json").is_file():
            raise ValueError(f"model bundle {self.model} not found (set RADLABEL_MODEL or use labeler=rules)")
        if self.api_key_file is not None and not self.api_key_file.is_file():
            raise ValueError(f"API key file {self.api_key_file} does not exist")
        return self

    @property
    def loopback(self) -> bool:
        """True when the service binds only to this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
