"""An LLM teacher behind any OpenAI-compatible chat-completions endpoint.

Works with vLLM, llama.cpp's server, Ollama or a hosted API: base URL, model name, API key
from the environment. Requests run with bounded concurrency (asyncio + httpx), a timeout,
retries with exponential backoff (honouring Retry-After on 429), and answers are validated
against the schema; an invalid answer is asked again, then recorded as a failure with its
reason. Every valid answer is cached on disk under (report hash, prompt version, model), so
an interrupted run resumes where it stopped and a rerun costs no request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from distill.deps import require
from distill.teachers.base import TeacherFailure, TeacherLabel
from distill.teachers.prompt import InvalidAnswer, messages, parse_answer, prompt_version
from labeler.records import Report
from labeler.schema import Schema, load_schema

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass
class OpenAITeacherConfig:
    """Connection and robustness settings of the LLM teacher."""

    base_url: str
    model: str
    api_key_env: str = "RADLABEL_TEACHER_API_KEY"
    cache_dir: Path = Path(".teacher_cache")
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 4
    max_invalid: int = 2
    backoff_s: float = 1.0
    temperature: float = 0.0
    json_mode: bool = True

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if self.concurrency < 1 or self.timeout_s <= 0 or self.max_retries < 0:
            raise ValueError("concurrency >= 1, timeout_s > 0 and max_retries >= 0 are required")
        self.cache_dir = Path(self.cache_dir)


class LabelCache:
    """One JSON file per (report hash, prompt version, model); writes are atomic renames."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(text: str, prompt: str, model: str) -> str:
        """Cache key of one request."""
        report = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return hashlib.sha256(f"{report}|{prompt}|{model}".encode()).hexdigest()

    def get(self, key: str) -> dict[str, object] | None:
        """A cached answer, or None."""
        path = self.directory / f"{key}.json"
        if not path.is_file():
            return None
        try:
            value: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
            return value
        except json.JSONDecodeError:
            return None

    def put(self, key: str, value: dict[str, object]) -> None:
        """Store an answer."""
        tmp = self.directory / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(value), encoding="utf-8")
        tmp.replace(self.directory / f"{key}.json")


class OpenAITeacher:
    """Labels reports by asking an OpenAI-compatible chat endpoint."""

    def __init__(self, config: OpenAITeacherConfig, schema: Schema | None = None) -> None:
        self.config = config
        self.schema = schema or load_schema()
        self.prompt_version = prompt_version(self.schema)
        self.cache = LabelCache(config.cache_dir)
        self.requests_sent = 0

    @property
    def name(self) -> str:
        """Teacher name: endpoint model."""
        return f"openai:{self.config.model}"

    def teach(
        self, reports: Sequence[Report], progress: Callable[[int], None] | None = None
    ) -> list[TeacherLabel | TeacherFailure]:
        """Label reports (blocking); one result per report, in input order."""
        return asyncio.run(self.ateach(reports, progress))

    async def ateach(
        self, reports: Sequence[Report], progress: Callable[[int], None] | None = None
    ) -> list[TeacherLabel | TeacherFailure]:
        """Label reports concurrently, at most `concurrency` requests in flight."""
        httpx = require("httpx")
        sem = asyncio.Semaphore(self.config.concurrency)
        key = os.environ.get(self.config.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeout = httpx.Timeout(self.config.timeout_s)
        async with httpx.AsyncClient(
            base_url=self.config.base_url.rstrip("/"), headers=headers, timeout=timeout
        ) as client:

            async def one(report: Report) -> TeacherLabel | TeacherFailure:
                async with sem:
                    result = await self._label_one(client, report)
                if progress:
                    progress(1)
                return result

            return list(await asyncio.gather(*(one(r) for r in reports)))

    def _label(self, report: Report, u: dict[str, int], evidence: dict[str, str]) -> TeacherLabel:
        return TeacherLabel(
            id=report.id,
            u=u,
            evidence=evidence,
            schema=self.schema.version,
            teacher=self.name,
            prompt_version=self.prompt_version,
        )

    async def _label_one(self, client: object, report: Report) -> TeacherLabel | TeacherFailure:
        key = LabelCache.key(report.text, self.prompt_version, self.config.model)
        cached = self.cache.get(key)
        if cached is not None:
            return self._label(report, dict(cached["u"]), dict(cached.get("evidence", {})))  # type: ignore[call-overload]
        invalid = 0
        last = "no answer"
        attempt = 0
        while attempt <= self.config.max_retries:
            try:
                content = await self._ask(client, report.text)
            except _Retryable as exc:
                last = str(exc)
                attempt += 1
                await asyncio.sleep(exc.wait if exc.wait is not None else self._backoff(attempt))
                continue
            except _Fatal as exc:
                return TeacherFailure(id=report.id, reason=str(exc), teacher=self.name)
            try:
                u, evidence = parse_answer(content, self.schema)
            except InvalidAnswer as exc:
                invalid += 1
                last = f"invalid answer: {exc}"
                if invalid > self.config.max_invalid:
                    break
                continue
            self.cache.put(key, {"u": u, "evidence": evidence})
            return self._label(report, u, evidence)
        return TeacherFailure(id=report.id, reason=f"gave up: {last}", teacher=self.name)

    def _backoff(self, attempt: int) -> float:
        return float(self.config.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random() / 2))

    async def _ask(self, client: object, text: str) -> str:
        httpx = require("httpx")
        body: dict[str, object] = {
            "model": self.config.model,
            "messages": messages(self.schema, text),
            "temperature": self.config.temperature,
        }
        if self.config.json_mode:
            body["response_format"] = {"type": "json_object"}
        self.requests_sent += 1
        try:
            resp = await client.post("/chat/completions", json=body)  # type: ignore[attr-defined]
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retryable(f"{type(exc).__name__}: request failed") from exc
        if resp.status_code in RETRY_STATUS:
            wait = resp.headers.get("retry-after")
            raise _Retryable(
                f"HTTP {resp.status_code}",
                float(wait) if wait and wait.replace(".", "", 1).isdigit() else None,
            )
        if resp.status_code >= 400:
            raise _Fatal(f"HTTP {resp.status_code} from the endpoint")
        try:
            return str(resp.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _Retryable("response is not a chat completion") from exc


class _Retryable(Exception):
    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class _Fatal(Exception):
    pass
