"""`radlabel serve` (the service under uvicorn) and `radlabel apikey` (make and hash keys).

Registered through the `radlabel.cli` entry-point group, so the core CLI never imports the
web stack. Logs go to stderr as JSON lines; uvicorn's own access log is off (ours has the
request id and never the path's ids or any report text). SIGTERM stops accepting connections,
lets in-flight requests finish (up to the drain timeout), then drains the batcher.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

serve_app = typer.Typer(add_completion=False, help="Run the HTTP service.")
apikey_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Make and hash API keys.")


class JsonLines(logging.Formatter):
    """One JSON object per log record (access lines are JSON already and are merged in)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
        }
        msg = record.getMessage()
        if record.name == "radlabel.access":
            out.update(json.loads(msg))
        else:
            out["msg"] = msg
        return json.dumps(out)


def setup_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for radlabel's and uvicorn's loggers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    for name in ("radlabel", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False


@serve_app.callback(invoke_without_command=True)
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1; $RADLABEL_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="bind port (default 8000; $RADLABEL_PORT)")] = None,
    model: Annotated[Path | None, typer.Option(help="model bundle (default: the embedded one)")] = None,
    labeler: Annotated[str | None, typer.Option(help="model or rules")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Serve labels over HTTP (settings: RADLABEL_* environment variables and .env)."""
    import uvicorn

    from service.app import create_app
    from service.settings import ServiceSettings

    overrides = {
        k: v for k, v in {"host": host, "port": port, "model": model, "labeler": labeler}.items() if v
    }
    try:
        settings = ServiceSettings(**overrides)  # type: ignore[arg-type]
        app = create_app(settings)
    except (ValidationError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    setup_logging(log_level.upper())
    base = f"http://{settings.host}:{settings.port}"
    auth = ' -H "Authorization: Bearer $RADLABEL_KEY"' if app.state.keys.enabled else ""
    typer.echo(
        f"radlabel serving {settings.labeler} labels on {base} (inspector: {base}/, docs: {base}/docs)\n"
        f"try:  curl -s {base}/v1/labels -H 'Content-Type: application/json'{auth} "
        """-d '{"text": "FINDINGS: Small left pleural effusion.\\nIMPRESSION: Possible pneumonia."}'""",
        err=True,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(settings.drain_timeout_s),
        timeout_keep_alive=int(settings.keep_alive_s),
    )
    uvicorn.Server(config).run()


@apikey_app.command("new")
def new() -> None:
    """Print a new random key and the `sha256:` line to put in RADLABEL_API_KEYS or a key file."""
    from service.auth import hash_key, new_key

    key = new_key()
    typer.echo(f"key:  {key}\nhash: {hash_key(key)}")


@apikey_app.command("hash")
def hash_(key: Annotated[str, typer.Argument(help="a plain API key")]) -> None:
    """Print the `sha256:` form of a key."""
    from service.auth import hash_key

    typer.echo(hash_key(key))
