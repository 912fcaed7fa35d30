"""What the read/act API holds for the gateway's lifetime: the service tokens, its own Sentry client
(on the shared budget, behind webhook work), the cache, the job store and the queue."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from redis.asyncio import Redis

from gateway.metrics import GatewayMetrics
from gateway.sentry_api.budget import ApiBudget
from gateway.sentry_api.errors import ApiError
from gateway.sentry_api.service import ReadService
from gateway.sentry_api.tokens import ServiceToken, parse_tokens
from shared.jobstore import JobStore
from shared.queue import DeliveryQueue
from shared.sentry.cache import FetchCache
from shared.sentry.client import SentryClient
from shared.sentry.ratelimit import RedisRateLimiter
from shared.settings import Settings

API_MAX_ATTEMPTS = 2  # a caller is waiting: one retry of a short fault, then an honest error
API_MAX_WAIT_S = 2.0  # a longer wait between tries (Sentry's Retry-After) is the caller's to make


async def sleep_briefly(wait_s: float) -> None:
    """The API client's sleep: short backoffs happen, a long Retry-After goes back to the caller."""
    if wait_s > API_MAX_WAIT_S:
        raise ApiError(429, "sentry_rate_limited", "Sentry is rate limiting; retry later", wait_s)
    await asyncio.sleep(wait_s)


def api_client(
    settings: Settings, redis: Redis, transport: httpx.AsyncBaseTransport | None = None
) -> SentryClient | None:
    """None without an internal-integration token (the API then answers 503)."""
    if settings.auth_token is None or not settings.organization:
        return None
    limit = settings.sentry_rate_limit_per_min
    budget = ApiBudget(
        shared=RedisRateLimiter(redis, f"org:{settings.organization}", limit),
        own=RedisRateLimiter(redis, f"api:{settings.organization}", max(1, int(limit * settings.api_budget_share))),
        limit=limit, reserve=round(limit * settings.sentry_budget_reserve),
    )
    return SentryClient.from_settings(
        settings, limiter=budget, transport=transport, max_attempts=API_MAX_ATTEMPTS, backoff_max_s=1.0,
        sleep=sleep_briefly,
    )


@dataclass
class SentryApi:
    settings: Settings
    tokens: tuple[ServiceToken, ...]
    service: ReadService | None
    queue: DeliveryQueue
    store: JobStore
    mcp_http: StreamableHTTPSessionManager | None = None  # set while the gateway serves (serve_sentry_api)
    metrics: GatewayMetrics | None = None  # the gateway's (calls counted); none over stdio

    @classmethod
    def build(
        cls, settings: Settings, redis: Redis, transport: httpx.AsyncBaseTransport | None = None
    ) -> SentryApi:
        store = JobStore(redis)
        client = api_client(settings, redis, transport)
        service = ReadService(client, FetchCache(redis, settings.cache_ttl_s), store) if client else None
        return cls(
            settings=settings, tokens=parse_tokens(settings.service_tokens), service=service,
            queue=DeliveryQueue(redis, settings.queue_name, settings.dedup_ttl_s), store=store,
        )

    async def aclose(self) -> None:
        if self.service is not None:
            await self.service.client.aclose()
