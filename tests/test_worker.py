"""The whole path on a real Redis: signed webhook at the gateway, worker job, write-back to Sentry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.queue import DeliveryQueue
from shared.replay import replay_job
from shared.settings import Settings
from tests.conftest import TOKEN, delivery
from tests.sentry_fake import FakeSentry
from worker.main import build_worker

ISSUE_ID = "1170820242"

RunWorker = Callable[..., Awaitable[None]]


@pytest.fixture
def sentry() -> FakeSentry:
    return FakeSentry.seeded(TOKEN)


@pytest.fixture
def worker_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values = {
            "SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org",
            "SENTRY_BASE_URL": "https://sentry.test/api/0/", "RESPONDER_RETRY_BASE_S": "0.01",
            "RESPONDER_RETRY_MAX_S": "0.05", "RESPONDER_MAX_TRIES": "3",
        }
        return make_settings(**(values | overrides))

    return factory


@pytest.fixture
def run_worker(sentry: FakeSentry) -> RunWorker:
    async def run(settings: Settings) -> None:
        worker = build_worker(
            settings, burst=True, poll_delay=0, handle_signals=False,
            ctx={"settings": settings, "sentry_transport": sentry.transport()},
        )
        try:
            await worker.async_run()
        finally:
            await worker.close()

    return run


async def post_issue_created(client: httpx.AsyncClient, **kwargs: Any) -> str:
    body, headers = delivery("issue.created", **kwargs)
    response = await client.post("/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 202
    return headers["Request-ID"]


async def test_webhook_to_comment_end_to_end(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    settings = worker_settings()
    client = await client_for(**{"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org"})
    delivery_id = await post_issue_created(client)
    await run_worker(settings)
    record = await JobStore(redis).get(delivery_id)
    assert record is not None
    assert record.state is JobState.SUCCEEDED, record.error
    assert record.attempts == 1 and record.dry_run is False
    assert {f["handler"] for f in record.findings} >= {"stack", "classification"}
    assert next(a["kind"] for a in record.plan) == "comment"
    comments = sentry.comments_on(ISSUE_ID)
    assert len(comments) == 1
    assert f"delivery `{delivery_id}`" in comments[0]
    assert record.writeback[0]["outcome"] == "done"


async def test_duplicate_delivery_gives_one_comment(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    client = await client_for()
    body, headers = delivery("issue.created")
    for _ in range(3):
        await client.post("/webhooks/sentry", content=body, headers=headers)
    await run_worker(worker_settings())
    assert len(sentry.comments_on(ISSUE_ID)) == 1


async def test_job_run_twice_never_posts_twice(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    client = await client_for()
    delivery_id = await post_issue_created(client)
    await run_worker(worker_settings())
    # As if the job ran again after a crash: queued again, its Redis write records lost.
    await redis.delete(*[k async for k in redis.scan_iter("responder:done:*")])
    await JobStore(redis).transition(delivery_id, JobState.DEAD)
    assert await replay_job(JobStore(redis), DeliveryQueue(redis, "responder:queue", 60), delivery_id)
    await redis.incr(f"arq:retry:{delivery_id}")  # a retry, so the footer check runs
    await run_worker(worker_settings())
    assert len(sentry.comments_on(ISSUE_ID)) == 1


async def test_transient_failures_retry_with_backoff_then_succeed(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    client = await client_for()
    delivery_id = await post_issue_created(client)
    # The client's own retries (4 attempts) are spent twice over: the job itself retries.
    sentry.fail_next = [503] * 8
    await run_worker(worker_settings(RESPONDER_MAX_TRIES="5"))
    record = await JobStore(redis).get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.attempts == 3
    assert len(sentry.comments_on(ISSUE_ID)) == 1


async def test_spent_retries_go_to_dead_letters_and_replay(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    client = await client_for()
    delivery_id = await post_issue_created(client)
    sentry.fail_next = [500] * 100
    await run_worker(worker_settings(RESPONDER_MAX_TRIES="2"))
    store = JobStore(redis)
    record = await store.get(delivery_id)
    assert record is not None and record.state is JobState.DEAD
    assert record.attempts == 2 and record.error and "SentryServerError" in record.error
    assert await store.dead_ids() == [delivery_id]
    assert record.payload is not None

    sentry.fail_next = []
    assert await replay_job(store, DeliveryQueue(redis, "responder:queue", 60), delivery_id)
    await run_worker(worker_settings(RESPONDER_MAX_TRIES="2"))
    record = await store.get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.replays == 1
    assert await store.dead_ids() == []
    assert len(sentry.comments_on(ISSUE_ID)) == 1


async def test_deleted_issue_fails_without_retry(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    sentry.issues.clear()
    client = await client_for()
    delivery_id = await post_issue_created(client)
    await run_worker(worker_settings())
    record = await JobStore(redis).get(delivery_id)
    assert record is not None and record.state is JobState.FAILED
    assert record.attempts == 1
    assert record.error is not None and "SentryNotFound" in record.error
    assert TOKEN not in record.error
    assert sum(1 for _, path in sentry.calls if path.endswith(f"/issues/{ISSUE_ID}/")) == 1


async def test_dry_run_records_the_plan_and_writes_nothing(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    client = await client_for()
    delivery_id = await post_issue_created(client)
    await run_worker(worker_settings(RESPONDER_DRY_RUN="1"))
    record = await JobStore(redis).get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.dry_run is True and record.plan and record.writeback == []
    assert [m for m, _ in sentry.calls if m != "GET"] == []


async def test_without_a_token_the_payload_is_analysed_in_dry_run(
    client_for: Any, redis: Redis, make_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    client = await client_for()
    body, headers = delivery("error.created")
    await client.post("/webhooks/sentry", content=body, headers=headers)
    await run_worker(make_settings())
    record = await JobStore(redis).get(headers["Request-ID"])
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.dry_run is True
    stack = next(f for f in record.findings if f["handler"] == "stack")
    assert "ReferenceError" in stack["summary"]
    assert sentry.calls == []


async def test_metric_alert_is_recorded_with_what_fired(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    client = await client_for()
    body, headers = delivery("metric_alert.resolved")
    await client.post("/webhooks/sentry", content=body, headers=headers)
    await run_worker(worker_settings())
    record = await JobStore(redis).get(headers["Request-ID"])
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.findings[0]["data"]["rule"] == "Too many errors"
    assert sentry.calls == []


async def test_a_write_sentry_refuses_is_a_reported_outcome_not_a_retry(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry, tmp_path: Any,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("mode: all_matches\nplaybooks:\n  - name: explain\n    actions:\n      comment: true\n"
                     "  - name: route\n    actions:\n      assign: 'user:9999'\n")
    settings = worker_settings(RESPONDER_RULES=str(rules))
    client = await client_for(**{"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org"})
    delivery_id = await post_issue_created(client)
    await run_worker(settings)
    record = await JobStore(redis).get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED and record.attempts == 1, record
    assert [(w["action"], w["outcome"]) for w in record.writeback] == [("comment", "done"), ("assign", "refused")]
    assert record.writeback[1]["detail"] == "assignedTo: Unable to resolve actor identifier"
    [comment] = sentry.comments_on(ISSUE_ID)
    assert "assign to user:9999: refused by Sentry: assignedTo: Unable to resolve actor identifier" in comment
