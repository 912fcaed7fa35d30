"""What a worker process builds once at start-up and every job uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from shared.jobstore import JobStore
from shared.queue import DeliveryQueue
from shared.settings import Settings
from worker.analysis.registry import HandlerRegistry
from worker.metrics import WorkerMetrics
from worker.redis_health import RedisHealth
from worker.rules import Rules
from worker.sentry_clients import SentryClients
from worker.singleflight import SingleFlight


@dataclass
class WorkerDeps:
    settings: Settings
    redis: Redis
    store: JobStore
    queue: DeliveryQueue
    clients: SentryClients  # none configured: no token, analysis from the payload only (dry-run)
    registry: HandlerRegistry
    rules: Rules
    rules_by_org: dict[str, Rules] = field(default_factory=dict)  # RESPONDER_RULES_DIR/<org>.yaml
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
    redis_health: RedisHealth = field(default_factory=RedisHealth)  # shared with arq's edges
    flights: SingleFlight = field(default_factory=SingleFlight)  # shared optional fetches (issue 21)

    @property
    def dry_run(self) -> bool:
        return self.settings.dry_run or not self.clients.configured

    def rules_for(self, organization: str | None) -> Rules:
        return self.rules_by_org.get(organization or "", self.rules)
