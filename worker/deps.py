"""What a worker process builds once at start-up and every job uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from shared.jobstore import JobStore
from shared.queue import DeliveryQueue
from shared.sentry.client import SentryClient
from shared.settings import Settings
from worker.analysis.registry import HandlerRegistry
from worker.metrics import WorkerMetrics
from worker.rules import Rules


@dataclass
class WorkerDeps:
    settings: Settings
    redis: Redis
    store: JobStore
    queue: DeliveryQueue
    client: SentryClient | None  # None: no token, analysis from the payload only (dry-run)
    registry: HandlerRegistry
    rules: Rules
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)

    @property
    def dry_run(self) -> bool:
        return self.settings.dry_run or self.client is None
