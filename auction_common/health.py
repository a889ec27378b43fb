"""``/healthz`` (alive), ``/readyz`` (dependencies reachable), ``/metrics``, ``/openapi.json``."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "endpoint", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request",
    ["service", "method", "endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def health_blueprint(
    service: str,
    checks: dict[str, Callable[[], None]],
    openapi: Callable[[], dict] | None = None,
    prefixes: tuple[str, ...] = (),
) -> Blueprint:
    """Health, readiness and the OpenAPI document, at the root and under each prefix (so that
    they are reachable through the gateway, e.g. ``/api/bids/readyz``); metrics at the root
    only."""
    bp = Blueprint(f"{service}_health", __name__)

    def healthz():
        return jsonify({"status": "ok", "service": service})

    def readyz():
        results, ready = {}, True
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:
                ready = False
                results[name] = f"unavailable: {exc.__class__.__name__}"
        body = {"status": "ready" if ready else "unavailable", "service": service,
                "checks": results}
        if ready:
            return jsonify(body), 200
        return jsonify(body), 503, {"Retry-After": "1"}

    def metrics():
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # several gunicorn workers: add them up
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    def openapi_json():
        return jsonify(openapi())

    # Metrics only at the root of the process's own port, where the operators' scraper reads
    # them: the gateway routes only the prefixes (and refuses /metrics), so they stay private.
    bp.add_url_rule("/metrics", "metrics", metrics)
    for prefix in ("",) + prefixes:
        bp.add_url_rule(f"{prefix}/healthz", f"healthz{prefix}", healthz)
        bp.add_url_rule(f"{prefix}/readyz", f"readyz{prefix}", readyz)
        if openapi is not None:
            bp.add_url_rule(f"{prefix}/openapi.json", f"openapi{prefix}", openapi_json)
    return bp


def instrument(app: Flask, service: str) -> None:
    """Count and time every request by endpoint (not by raw path, to keep cardinality low)."""

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    #: (method, endpoint, status) -> that request count and latency histogram: ``labels()``
    #: builds and checks its key under a lock at every call; the kinds of request are few.
    children: dict[tuple[str, str, int], tuple] = {}

    @app.after_request
    def _record(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        key = (request.method, endpoint, response.status_code)
        metrics = children.get(key)
        if metrics is None:
            metrics = children[key] = (REQUESTS.labels(service, *key),
                                       LATENCY.labels(service, *key[:2]))
        metrics[0].inc()
        started = g.get("request_started")
        if started is not None:
            metrics[1].observe(time.perf_counter() - started)
        return response
