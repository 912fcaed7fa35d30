"""The worker's own /metrics: job durations, Sentry calls by endpoint and status, budget waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from redis.asyncio import Redis

from devtools.processes import free_port
from shared.settings import Settings
from tests.helpers import TOKEN, delivery
from tests.sentry_fake import FakeSentry
from worker.job import process_delivery
from worker.main import shutdown, startup
from worker.metrics import WorkerMetrics


async def test_a_job_shows_up_in_the_worker_metrics(
    client_for: Any, redis: Redis, make_settings: Callable[..., Settings],
) -> None:
    port = free_port()
    values = {"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org",
              "SENTRY_BASE_URL": "https://sentry.test/api/0/", "RESPONDER_WORKER_METRICS_PORT": str(port)}
    settings = make_settings(**values)
    gateway = await client_for(**values)
    body, headers = delivery("issue.created")
    assert (await gateway.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202

    sentry = FakeSentry.seeded(TOKEN)
    ctx: dict[str, Any] = {"settings": settings, "redis": redis, "sentry_transport": sentry.transport()}
    await startup(ctx)
    try:
        assert await process_delivery(ctx | {"job_try": 1}, headers["Request-ID"]) == "succeeded"
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        await shutdown(ctx)
    assert 'responder_job_duration_seconds_count{resource="issue",state="succeeded"} 1.0' in text
    assert 'responder_sentry_calls_total{endpoint="comments",method="POST",status="201"} 1.0' in text
    assert "responder_sentry_rate_limit_waits_total 0.0" in text
    assert TOKEN not in text


def test_a_busy_port_is_not_fatal() -> None:
    first, second = WorkerMetrics(), WorkerMetrics()
    port = free_port()
    assert first.serve(port, host="127.0.0.1")
    assert not second.serve(port, host="127.0.0.1")
    assert not second.serve(0)
