"""The Sentry budget is shared: two clients on one Redis make no more calls than one budget."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from redis.asyncio import Redis

from shared import keys
from shared.sentry.client import SentryClient
from shared.sentry.ratelimit import BudgetWait, RedisRateLimiter
from tests.helpers import TOKEN, load_webhook

ISSUE = load_webhook("issue.created")["data"]["issue"]


async def test_two_clients_share_one_budget(redis: Redis) -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.time())
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
    assert len(calls) == 30
    # 10 at once, 10 a second later, 10 a second after that: a lower bound, true however busy.
    assert time.monotonic() - started >= 1.9
    # The budget is kept in the reserved slots (no window of 1 s holds more than 10), and every
    # call waited for its slot. A busy machine only makes calls later than their slots, so both
    # hold under load (the calls' own spacing does not: a delayed call can land near the next wave).
    slots = sorted(score / 1000 for _, score in await redis.zrange(keys.rate_limit("org:test"), 0, -1, withscores=True))
    assert len(slots) == 30
    assert all(sum(1 for t in slots if s <= t < s + 1.0) <= 10 for s in slots)
    assert all(call >= slot - 0.05 for call, slot in zip(sorted(calls), slots, strict=True))
    assert first.rate_limit_waits + second.rate_limit_waits == 20


async def test_remaining_and_blocking(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis, "org:peek", limit=5, window_s=1.0)
    assert await limiter.remaining() == 5
    await limiter.acquire()
    assert await limiter.remaining() == 4
    await limiter.block_until(time.time() + 60)  # far enough ahead that a busy machine cannot reach it
    assert await limiter.remaining() == 0
    assert 50 < await limiter.acquire() <= 60


async def test_a_wait_longer_than_the_caller_accepts_reserves_nothing(redis: Redis) -> None:
    limiter = RedisRateLimiter(redis, "org:defer", limit=2, window_s=60.0)
    assert await limiter.acquire(max_wait_s=5) == 0 and await limiter.acquire(max_wait_s=5) == 0
    with pytest.raises(BudgetWait) as info:  # the next slot is a minute away: the job defers
        await limiter.acquire(max_wait_s=5)
    assert 55 < info.value.wait_s <= 60
    assert await redis.zcard(keys.rate_limit("org:defer")) == 2  # no phantom reservation
    assert 55 < await limiter.acquire() <= 60  # without a cap, the caller waits its turn
