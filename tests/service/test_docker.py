"""Docker files checked without a Docker engine: they parse, what they copy exists, the scrape
target is the service's metrics endpoint, and every metric the dashboard queries is exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from service.metrics import ServiceMetrics

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfiles_are_multistage_non_root_with_healthcheck_and_copy_what_exists():
    for name in ("Dockerfile.cpu", "Dockerfile.gpu"):
        steps = instructions(DOCKER / name)
        words = [w for w, _ in steps]
        assert set(words) <= {
            "FROM",
            "WORKDIR",
            "ENV",
            "COPY",
            "RUN",
            "USER",
            "EXPOSE",
            "HEALTHCHECK",
            "ENTRYPOINT",
            "VOLUME",
        }
        assert words.count("FROM") == 2, f"{name}: not multi-stage"
        env = " ".join(a for w, a in steps if w == "ENV")
        assert "RADLABEL_DATA_DIR=/data" in env and ("VOLUME", "/data") in steps, (
            f"{name}: job data not on a volume"
        )
        users = [a for w, a in steps if w == "USER"]
        assert users and users[-1] not in ("root", "0")
        assert any(w == "HEALTHCHECK" and "/readyz" in a for w, a in steps)
        for w, a in steps:
            if w == "COPY" and "--from" not in a:
                *sources, _dest = a.split()
                for src in sources:
                    assert (ROOT / src).exists(), f"{name} copies {src}, which does not exist"
        install = " ".join(a for w, a in steps if w == "RUN")
        assert '".[serve]"' in install and "train" not in install
        entry = json.loads(next(a for w, a in steps if w == "ENTRYPOINT"))
        assert entry == ["radlabel", "serve"]
    gpu = (DOCKER / "Dockerfile.gpu").read_text()
    assert "onnxruntime-gpu" in gpu and "nvidia/cuda" in gpu
    assert (ROOT / "models" / "default" / "labeler_config.json").is_file()  # the baked-in bundle


def test_compose_scrapes_the_service_metrics_endpoint():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert {"radlabel", "prometheus", "grafana"} <= set(compose["services"])
    svc = compose["services"]["radlabel"]
    assert (ROOT / svc["build"]["context"].replace("..", ".") / svc["build"]["dockerfile"]).is_file()
    port = int(svc["ports"][0].split(":")[1])
    prom = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    [job] = prom["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"radlabel:{port}"]
    assert "RADLABEL_PORT=8000" in (DOCKER / "Dockerfile.cpu").read_text() and port == 8000
    for vol in compose["services"]["grafana"]["volumes"] + compose["services"]["prometheus"]["volumes"]:
        assert (DOCKER / vol.split(":")[0]).exists(), vol


def test_dashboard_queries_name_metrics_the_service_exports():
    metrics = ServiceMetrics()
    metrics.ran(3, 100, [0.01] * 3, 0.02, 1)
    metrics.queued(2)
    metrics.requests.labels(route="/v1/labels", method="POST", code="200").inc()
    metrics.latency.labels(route="/v1/labels").observe(0.1)
    metrics.failures.labels(error_type="invalid_input").inc()
    from labeler.assemble import build_record
    from labeler.schema import load_schema

    metrics.count_labels([build_record("x", {"pneumothorax": -3}, load_schema(), "t")], load_schema())
    exported = {s.name for fam in metrics.registry.collect() for s in fam.samples}
    dash = json.loads((DOCKER / "grafana" / "dashboards" / "radlabel.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(dash["panels"]) >= 6
    used = {m for e in exprs for m in re.findall(r"\bradlabel_[a-z_]+", e)}
    assert used and used <= exported, used - exported
    for want in (
        "radlabel_reports_total",
        "radlabel_request_duration_seconds_bucket",
        "radlabel_queue_depth",
    ):
        assert want in used
    prov = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/radlabel.yaml").read_text())
    assert prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
