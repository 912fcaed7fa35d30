"""A try that overruns the job timeout is retried and recorded, never left running."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from arq import Retry
from redis.asyncio import Redis

from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.settings import Settings
from tests.helpers import TOKEN, delivery
from tests.sentry_fake import FakeSentry
from worker.job import process_delivery
from worker.main import shutdown, startup


async def test_an_overrunning_try_is_retried_with_the_reason_recorded(
    client_for: Any, redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    # Each call fits its retry budget (timeouts nest: a single hanging call ends within it, see
    # test_sentry_client.py); three slow calls in a row overrun the job.
    values = {"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org",
              "SENTRY_BASE_URL": "https://sentry.test/api/0/", "RESPONDER_JOB_TIMEOUT_S": "3",
              "SENTRY_RETRY_BUDGET_S": "2.9"}
    gateway = await client_for(**values)
    body, headers = delivery("issue.created")
    assert (await gateway.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202
    sentry = FakeSentry.seeded(TOKEN)

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.2)  # three of them: 3.6 s
        return await sentry.handle(request)

    ctx: dict[str, Any] = {"settings": make_settings(**values), "redis": redis,
                           "sentry_transport": httpx.MockTransport(slow)}
    await startup(ctx)
    try:
        with pytest.raises(Retry):
            await asyncio.wait_for(process_delivery(ctx | {"job_try": 1}, headers["Request-ID"]), timeout=30)
    finally:
        await shutdown(ctx)
    record = await JobStore(redis).get(headers["Request-ID"])
    assert record is not None and record.state is JobState.RETRYING
    assert record.error == "TimeoutError: the try took longer than the job timeout"
