"""What the gateway holds for its lifetime: settings, the Redis pool, the queue and the metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis

from gateway.body import BodyBudget
from gateway.metrics import GatewayMetrics
from gateway.spool import Spool
from gateway.throttle import LoginThrottle
from shared.jobstore import JobStore
from shared.queue import DeliveryQueue, IntakeBatcher
from shared.settings import Settings


@dataclass
class GatewayState:
    settings: Settings
    redis: Redis
    queue: DeliveryQueue
    batcher: IntakeBatcher
    store: JobStore
    metrics: GatewayMetrics
    secrets: tuple[str, ...]
    spool: Spool
    redis_down: bool = False  # known down: deliveries go straight to the spool, fast
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    body_budget: BodyBudget = field(default_factory=lambda: BodyBudget(64 * 1024 * 1024))
    sentry_transport: httpx.AsyncBaseTransport | None = None  # undo's calls to Sentry (tests swap it)

    @classmethod
    def build(cls, settings: Settings, redis: Redis) -> GatewayState:
        queue = DeliveryQueue(
            redis, settings.queue_name, settings.dedup_ttl_s,
            min_replicas=settings.redis_min_replicas, replica_timeout_s=settings.redis_replica_timeout_s,
            quiet_window_s=settings.quiet_window_s,
        )
        secrets = tuple(s.get_secret_value() for s in settings.client_secrets)
        return cls(
            settings=settings,
            redis=redis,
            queue=queue,
            batcher=IntakeBatcher(queue),
            store=JobStore(redis),
            metrics=GatewayMetrics(),
            secrets=secrets,
            spool=Spool(settings.spool_dir, settings.spool_max_bytes, secrets),
            body_budget=BodyBudget(settings.body_buffer_bytes),
        )
