"""Nothing sleeps long inside a job: a long 429, a spent budget or a busy issue ends the try and
puts the job back on the queue for as long as it must wait (a budget or lock wait spends no try)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from arq import Retry
from redis.asyncio import Redis

from shared import keys
from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.sentry.ratelimit import RedisRateLimiter
from shared.settings import Settings
from tests.helpers import TOKEN, delivery
from tests.sentry_fake import FakeSentry
from worker.job import process_delivery
from worker.main import shutdown, startup

VALUES = {"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org",
          "SENTRY_BASE_URL": "https://sentry.test/api/0/", "RESPONDER_QUIET_WINDOW_S": "0"}


@pytest.fixture
async def queued(client_for: Any, redis: Redis) -> AsyncIterator[str]:
    """An issue.created taken by the gateway, its try counted as arq counts it."""
    gateway = await client_for(**VALUES)
    body, headers = delivery("issue.created")
    assert (await gateway.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202
    delivery_id = headers["Request-ID"]
    await redis.set(f"arq:retry:{delivery_id}", 1)
    yield delivery_id


async def run_once(
    make_settings: Callable[..., Settings], redis: Redis, transport: httpx.AsyncBaseTransport, delivery_id: str,
) -> Retry:
    ctx: dict[str, Any] = {"settings": make_settings(**VALUES), "redis": redis, "sentry_transport": transport}
    await startup(ctx)
    try:
        with pytest.raises(Retry) as info:
            await process_delivery(ctx | {"job_try": 1}, delivery_id)
    finally:
        await shutdown(ctx)
    return info.value


async def test_a_spent_budget_mid_job_defers_it_without_a_try(
    queued: str, redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    limiter = RedisRateLimiter(redis, "org:test-org", 100)
    for _ in range(100):  # the minute's budget is gone: the next call would wait about a minute
        await limiter.acquire()
    sentry = FakeSentry.seeded(TOKEN)
    retry = await run_once(make_settings, redis, sentry.transport(), queued)
    assert retry.defer_score is not None and 50_000 < retry.defer_score <= 60_000
    assert sentry.calls == []  # nothing was sent, and no phantom slot was reserved
    assert await redis.zcard(keys.rate_limit("org:test-org")) == 100
    assert await redis.get(f"arq:retry:{queued}") == b"0"  # no try spent
    record = await JobStore(redis).get(queued)
    assert record is not None and record.state is JobState.QUEUED
    assert record.reason == "waiting for Sentry budget"


async def test_a_long_429_ends_the_try_and_defers_by_its_retry_after(
    queued: str, redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    sentry = FakeSentry.seeded(TOKEN)

    def handler(request: httpx.Request) -> httpx.Response:
        sentry.calls.append((request.method, request.url.path))
        return httpx.Response(429, json={"detail": "slow down"}, headers={"Retry-After": "40"})

    retry = await run_once(make_settings, redis, httpx.MockTransport(handler), queued)
    assert retry.defer_score is not None and retry.defer_score >= 40_000  # never sooner than Sentry asked
    assert len(sentry.calls) == 1  # no sleeping and asking again inside the try
    record = await JobStore(redis).get(queued)
    assert record is not None and record.state is JobState.RETRYING
    assert record.error is not None and "429" in record.error


async def test_a_busy_issue_defers_the_job_without_a_try(
    queued: str, redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    record = await JobStore(redis).get(queued)
    assert record is not None and record.issue_id is not None
    await redis.set(keys.issue_lock(record.issue_id), "another-job", px=30_000)  # another job writes
    sentry = FakeSentry.seeded(TOKEN)
    retry = await run_once(make_settings, redis, sentry.transport(), queued)
    assert retry.defer_score is not None and 1_000 <= retry.defer_score <= 5_000  # looks again soon
    assert await redis.get(f"arq:retry:{queued}") == b"0"
    after = await JobStore(redis).get(queued)
    assert after is not None and after.state is JobState.QUEUED
    assert after.reason == "waiting for another job of this issue"
    assert not sentry.comments_on(record.issue_id)


async def test_a_re_run_takes_over_the_lock_its_own_killed_try_left(
    queued: str, redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    """A SIGKILLed try leaves the issue lock behind, holding its delivery id; arq runs the job again
    only after its lease on that try ran out, so the re-run carries on instead of waiting for it."""
    record = await JobStore(redis).get(queued)
    assert record is not None and record.issue_id is not None
    await redis.set(keys.issue_lock(record.issue_id), queued, px=30_000)  # left by the killed try
    sentry = FakeSentry.seeded(TOKEN)
    ctx: dict[str, Any] = {"settings": make_settings(**VALUES), "redis": redis, "sentry_transport": sentry.transport()}
    await startup(ctx)
    try:
        assert await process_delivery(ctx | {"job_try": 2}, queued) == "succeeded"
    finally:
        await shutdown(ctx)
    assert len(sentry.comments_on(record.issue_id)) == 1
    assert await redis.get(keys.issue_lock(record.issue_id)) is None  # released as its own
