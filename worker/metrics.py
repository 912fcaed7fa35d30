"""The worker's Prometheus metrics, served on a port of its own (each worker process is scraped),
with /healthz and /readyz beside them (worker/http_port.py).

The gateway's /metrics shows what is queued and recorded (read from Redis); what only a worker
knows, how long jobs take and what they cost in Sentry calls, is here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from shared.sentry.client import SentryClient
from worker import http_port
from worker.http_port import Readiness

log = structlog.get_logger("worker.metrics")


class RateLimitWaits(Collector):
    """Each client counts its waits for the shared budget; summed at scrape time."""

    def __init__(self) -> None:
        self.clients: list[SentryClient] = []

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "responder_sentry_rate_limit_waits", "Sentry calls that waited for the shared budget",
            value=sum(c.rate_limit_waits for c in self.clients),
        )
        yield CounterMetricFamily(
            "responder_sentry_rate_limit_wait_seconds", "Time spent waiting for the shared budget",
            value=sum(c.rate_limit_wait_s for c in self.clients),
        )


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.job_seconds = Histogram(
            "responder_job_duration_seconds", "Time one try of a job took, by resource and outcome",
            ["resource", "state"], registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
        )
        self.sentry_calls = Counter(
            "responder_sentry_calls", "Calls to Sentry's API by endpoint and status",
            ["method", "endpoint", "status"], registry=r,
        )
        self.sentry_seconds = Histogram(
            "responder_sentry_call_seconds", "Latency of Sentry's API by endpoint", ["endpoint"], registry=r,
        )
        self._waits = RateLimitWaits()
        r.register(self._waits)
        self.budget_deferrals = Counter(
            "responder_budget_deferrals", "Jobs put back on the queue to wait for Sentry budget", registry=r,
        )

    def on_call(self, method: str, endpoint: str, status: int | None, seconds: float) -> None:
        self.sentry_calls.labels(method, endpoint, str(status) if status is not None else "error").inc()
        self.sentry_seconds.labels(endpoint).observe(seconds)

    def watch(self, client: SentryClient) -> None:
        self._waits.clients.append(client)

    def serve(self, port: int, host: str = "0.0.0.0", readiness: Readiness | None = None) -> bool:
        """Serve /metrics, /healthz and /readyz; another worker on this host may hold the port,
        which is not fatal."""
        if port <= 0:
            return False
        try:
            http_port.serve(port, host, self.registry, readiness)
        except OSError as exc:
            log.warning("worker_metrics_port_busy", port=port, error=exc.strerror)
            return False
        return True
