"""Budget-aware priority: the pure policy, and a worker that lets repeated errors wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from arq import Retry
from redis.asyncio import Redis

from shared.jobs import Delivery, JobState
from shared.jobstore import JobStore
from shared.sentry.ratelimit import RedisRateLimiter
from shared.settings import Settings
from tests.helpers import TOKEN, delivery
from tests.sentry_fake import FakeSentry
from worker.job import process_delivery
from worker.main import shutdown, startup
from worker.priority import Priority, budget_wait_s, priority_of


def make(resource: str, action: str) -> Delivery:
    return Delivery(id="d", resource=resource, action=action, received_at=0.0, issue_id="1")


@pytest.mark.parametrize(
    ("resource", "action", "seen", "expected"),
    [
        ("event_alert", "triggered", 50, Priority.URGENT),
        ("metric_alert", "critical", 1, Priority.URGENT),
        ("issue", "created", 1, Priority.URGENT),
        ("issue", "unresolved", 9, Priority.URGENT),
        ("error", "created", 1, Priority.NORMAL),  # the first error of an issue is news
        ("error", "created", 2, Priority.DEFERRABLE),
        ("issue", "resolved", 5, Priority.NORMAL),
        ("comment", "created", 5, Priority.NORMAL),
    ],
)
def test_priority_of(resource: str, action: str, seen: int, expected: Priority) -> None:
    assert priority_of(make(resource, action), seen) is expected


def test_only_deferrable_work_waits_and_only_when_the_reserve_is_reached() -> None:
    assert budget_wait_s(Priority.URGENT, 0, 100, 0.25) is None
    assert budget_wait_s(Priority.NORMAL, 0, 100, 0.25) is None
    assert budget_wait_s(Priority.DEFERRABLE, 26, 100, 0.25) is None
    short = budget_wait_s(Priority.DEFERRABLE, 25, 100, 0.25)
    long = budget_wait_s(Priority.DEFERRABLE, 0, 100, 0.25)
    assert short is not None and long is not None and 1.0 <= short < long <= 60.0
    assert budget_wait_s(Priority.DEFERRABLE, 0, 100, 0.0) is not None  # never below one call


async def test_low_budget_defers_repeated_errors_but_not_new_issues(
    client_for: Any, redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    values = {"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org",
              "SENTRY_BASE_URL": "https://sentry.test/api/0/", "RESPONDER_QUIET_WINDOW_S": "0"}
    settings = make_settings(**values)
    client = await client_for(**values)
    ids = {}
    for name in ("error.created", "issue.created"):
        body, headers = delivery(name)
        assert (await client.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202
        ids[name] = headers["Request-ID"]
    await redis.incr("responder:issue:1170820242:deliveries")  # the error's issue was seen before
    limiter = RedisRateLimiter(redis, "org:test-org", settings.sentry_rate_limit_per_min)
    for _ in range(80):  # 20 calls left: below the 25% reserve
        await limiter.acquire()

    sentry = FakeSentry.seeded(TOKEN)
    ctx: dict[str, Any] = {"settings": settings, "redis": redis, "sentry_transport": sentry.transport()}
    await startup(ctx)
    try:
        await redis.set(f"arq:retry:{ids['error.created']}", 1)  # as arq counts the try it runs
        with pytest.raises(Retry):
            await process_delivery(ctx | {"job_try": 1}, ids["error.created"])
        assert await redis.get(f"arq:retry:{ids['error.created']}") == b"0"  # no try spent
        waiting = await JobStore(redis).get(ids["error.created"])
        assert waiting is not None and waiting.state is JobState.QUEUED
        assert waiting.reason == "waiting for Sentry budget"
        assert sentry.calls == []

        assert await process_delivery(ctx | {"job_try": 1}, ids["issue.created"]) == "succeeded"
        assert sentry.calls  # the new issue went ahead on the reserve
    finally:
        await shutdown(ctx)
