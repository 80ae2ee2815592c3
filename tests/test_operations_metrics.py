"""What operators scrape and search: `/metrics` in the Prometheus text format (summed over
gunicorn workers, behind METRICS_TOKEN) and JSON log lines carrying the request id."""
from __future__ import annotations

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scripts.processes import GunicornService, http
from tests.helpers import UNLIMITED, service_env

TOKEN = "scrape-" + "t" * 30
LIST = "/api/v1/projects"


def _samples(text: str, family: str) -> dict[str, float]:
    """`{labels: value}` of one metric family in an exposition."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{family}(\{{[^}}]*\}})? ([0-9.e+-]+)$", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def test_metrics_sum_every_worker_by_route_template(database_url: str, redis_url: str,
                                                    db: Any, redis: Any,
                                                    tmp_path: Any) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = service_env(database_url, redis_url, METRICS_TOKEN=TOKEN,
                      PROJECTS_RATE_LIMIT=UNLIMITED, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    unknown = [str(uuid.uuid4()) for _ in range(5)]
    with GunicornService(env, tmp_path, workers=2) as service:
        reads = [LIST] * 20 + [f"{LIST}/{project_id}" for project_id in unknown]
        with ThreadPoolExecutor(4) as pool:  # four at once: both sync workers take some
            statuses = list(pool.map(lambda path: http("GET", service.url + path).status,
                                     reads))
        assert statuses == [200] * 20 + [404] * 5
        workers = service.worker_pids()
        # Each worker wrote its own counters; the scrape, answered by one, sums both.
        writers = {path.stem.rpartition("_")[2] for path in metrics_dir.glob("counter_*.db")}
        scrape = http("GET", service.url + "/metrics",
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(workers) == 2 and writers >= {str(pid) for pid in workers}, (writers, workers)
    assert scrape.status == 200, scrape.body[:300]
    assert scrape.headers["Content-Type"].startswith("text/plain")
    assert scrape.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in scrape.headers
    text = scrape.body.decode()
    requests = _samples(text, "marketplace_http_requests_total")
    listed = 'method="GET",route="/api/v1/projects",status="200"'
    detail = 'method="GET",route="/api/v1/projects/<uuid:project_id>",status="404"'
    assert requests["{" + listed + "}"] >= 20, requests
    assert requests["{" + detail + "}"] >= 5, requests
    for project_id in unknown:
        assert project_id not in text  # a template, never the raw path
    cache = _samples(text, "marketplace_cache_requests_total")
    assert cache['{result="hit"}'] >= 18, cache  # the list's first read may miss
    durations = _samples(text, "marketplace_http_request_duration_seconds_count")
    assert durations['{method="GET",route="/api/v1/projects"}'] >= 20, durations
    for family in ("marketplace_redis_up", "marketplace_redis_pool_in_use",
                   "marketplace_db_pool_in_use", "marketplace_redis_outages_total"):
        assert _samples(text, family), family
    assert _samples(text, "marketplace_redis_up")[""] in (0.0, 1.0)


def test_the_redis_gauge_follows_the_breaker(make_app: Any, db: Any,
                                             private_redis: Any) -> None:
    client = make_app(METRICS_TOKEN=TOKEN, REDIS_URL=private_redis.url).test_client()
    scrape = {"Authorization": f"Bearer {TOKEN}"}
    text = client.get("/metrics", headers=scrape).get_data(as_text=True)
    assert _samples(text, "marketplace_redis_up") == {"": 1.0}
    private_redis.stop()
    assert client.get(LIST).status_code == 200  # served from PostgreSQL; the breaker opens
    text = client.get("/metrics", headers=scrape).get_data(as_text=True)
    assert _samples(text, "marketplace_redis_up") == {"": 0.0}
    assert _samples(text, "marketplace_redis_outages_total") == {"": 1.0}


def test_metrics_access(make_app: Any, db: Any, redis: Any) -> None:
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.json["code"] == "unauthorized"
    for _ in range(3):  # never rate-limited, never a session
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert b"marketplace_http_requests_total" in answer.data
    unset = make_app().test_client().get("/metrics",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert unset.status_code == 404 and unset.json["code"] == "not_found"


def test_json_log_lines_carry_the_request_id(database_url: str, redis_url: str, db: Any,
                                             redis: Any, tmp_path: Any) -> None:
    env = service_env(database_url, redis_url, LOG_FORMAT="json", LOG_LEVEL="INFO")
    with GunicornService(env, tmp_path, workers=1) as service:
        assert http("GET", service.url + LIST, headers={"X-Request-ID": "trace-me-1"}).status == 200
        assert http("GET", f"{service.url}{LIST}/{uuid.uuid4()}",
                    headers={"X-Request-ID": "trace-me-2"}).status == 404
        log = service.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    request_lines = {entry["request_id"]: entry for entry in lines
                     if entry.get("logger") == "marketplace.request"}
    first = request_lines["trace-me-1"]
    assert first["status"] == 200 and first["method"] == "GET"
    assert first["route"] == "/api/v1/projects" and first["duration_ms"] >= 0
    assert {"time", "level", "logger", "message", "request_id"} <= set(first)
    second = request_lines["trace-me-2"]
    assert second["status"] == 404 and second["route"] == "/api/v1/projects/<uuid:project_id>"
    assert all(set(entry) >= {"time", "level", "logger", "message", "request_id"}
               for entry in lines)
