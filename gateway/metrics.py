"""The gateway's Prometheus metrics, on a registry of its own so tests can build many apps."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.webhooks = Counter(
            "responder_webhooks_received", "Webhook deliveries by resource and outcome",
            ["resource", "outcome"], registry=r,
        )
        self.signature_failures = Counter(
            "responder_signature_failures", "Rejected signatures by reason", ["reason"], registry=r
        )
        self.enqueue_seconds = Histogram(
            "responder_enqueue_seconds", "Time to take a delivery into Redis", registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self.queue_depth = Gauge("responder_queue_depth", "Jobs waiting in the queue", registry=r)
        self.jobs_by_state = Gauge(
            "responder_jobs", "Job records by state", ["state"], registry=r
        )
        self.dead_letters = Gauge("responder_dead_letters", "Jobs in the dead-letter list", registry=r)
        self.spooled = Counter("responder_spooled", "Deliveries written to the local spool", registry=r)
        self.spool_drained = Counter(
            "responder_spool_drained", "Spooled deliveries moved into the queue", registry=r
        )
        self.spool_refused = Counter(
            "responder_spool_refused", "Deliveries refused (503): spool full or disk failing",
            registry=r,
        )
        self.spool_depth = Gauge("responder_spool_depth", "Deliveries waiting in the spool", registry=r)
        # Labels from fixed sets only: the route's template (never its path: ids would make a series
        # each), an MCP tool's name, and the status's class.
        self.api_calls = Counter(
            "responder_api_calls", "Read/act API calls (/api/sentry) and MCP tool calls",
            ["surface", "route", "status_class"], registry=r,
        )

    def count_api_call(self, surface: str, route: str, status: int) -> None:
        """`surface`: "http" (route: its template) or "mcp" (route: the tool); `status` as HTTP's."""
        self.api_calls.labels(surface, route, status_class(status)).inc()


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"
