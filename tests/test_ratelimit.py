"""The Sentry budget is shared: two clients on one Redis make no more calls than one budget."""

from __future__ import annotations

import asyncio
import time

import httpx
from redis.asyncio import Redis

from shared.sentry.client import SentryClient
from shared.sentry.ratelimit import RedisRateLimiter
from tests.conftest import TOKEN, load_webhook

ISSUE = load_webhook("issue.created")["data"]["issue"]


async def test_two_clients_share_one_budget(redis: Redis) -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        return httpx.Response(200, json=ISSUE)

    def client() -> SentryClient:
        limiter = RedisRateLimiter(redis, "org:test", limit=10, window_s=1.0)
        return SentryClient(
            "https://sentry.test/api/0/", TOKEN, "test-org",
            transport=httpx.MockTransport(handler), limiter=limiter,
        )

    first, second = client(), client()
    started = time.monotonic()
    await asyncio.gather(*(c.get_issue("1") for c in (first, second) for _ in range(15)))
    elapsed = time.monotonic() - started
    assert len(calls) == 30
    # 10 at once, 10 a second later, 10 a second after that: never more than 10 in a second.
    assert elapsed >= 1.9
    for i in range(len(calls)):
        window = [t for t in calls if calls[i] <= t < calls[i] + 0.98]
        assert len(window) <= 10
    assert first.rate_limit_waits + second.rate_limit_waits == 20


async def test_remaining_and_blocking(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis, "org:peek", limit=5, window_s=1.0)
    assert await limiter.remaining() == 5
    await limiter.acquire()
    assert await limiter.remaining() == 4
    await limiter.block_until(time.time() + 0.5)
    assert await limiter.remaining() == 0
    assert 0.3 < await limiter.acquire() <= 0.5
