"""The whole path on a real Redis: signed webhook at the gateway, worker job, write-back to Sentry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.queue import DeliveryQueue
from shared.replay import replay_job
from shared.settings import Settings
from tests.helpers import TOKEN, delivery, run_burst_worker
from tests.sentry_fake import FakeSentry

ISSUE_ID = "1170820242"

@dataclass
class WorkerHarness:
    """What a worker test works with: gateways, the Redis they share, a strict fake Sentry, and a
    burst-mode worker built from settings the tests adjust."""

    client_for: Callable[..., Awaitable[httpx.AsyncClient]]
    redis: Redis
    sentry: FakeSentry
    make_settings: Callable[..., Settings]

    def settings(self, **overrides: Any) -> Settings:
        values = {
            "SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org",
            "SENTRY_BASE_URL": "https://sentry.test/api/0/", "RESPONDER_RETRY_BASE_S": "0.01",
            "RESPONDER_RETRY_MAX_S": "0.05", "RESPONDER_MAX_TRIES": "3",
        }
        return self.make_settings(**(values | overrides))

    async def run_worker(self, settings: Settings) -> None:
        await run_burst_worker(settings, self.sentry.transport())

    @property
    def store(self) -> JobStore:
        return JobStore(self.redis)


@pytest.fixture
def harness(client_for: Any, redis: Redis, make_settings: Callable[..., Settings]) -> WorkerHarness:
    return WorkerHarness(client_for, redis, FakeSentry.seeded(TOKEN), make_settings)


async def post_issue_created(client: httpx.AsyncClient, **kwargs: Any) -> str:
    body, headers = delivery("issue.created", **kwargs)
    response = await client.post("/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 202
    return headers["Request-ID"]


async def test_webhook_to_comment_end_to_end(harness: WorkerHarness) -> None:
    settings = harness.settings()
    client = await harness.client_for(**{"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org"})
    delivery_id = await post_issue_created(client)
    await harness.run_worker(settings)
    record = await harness.store.get(delivery_id)
    assert record is not None
    assert record.state is JobState.SUCCEEDED, record.error
    assert record.attempts == 1 and record.dry_run is False
    assert {f["handler"] for f in record.findings} >= {"stack", "classification"}
    assert next(a["kind"] for a in record.plan) == "comment"
    comments = harness.sentry.comments_on(ISSUE_ID)
    assert len(comments) == 1
    assert f"delivery `{delivery_id}`" in comments[0]
    assert record.writeback[0]["outcome"] == "done"


async def test_duplicate_delivery_gives_one_comment(harness: WorkerHarness) -> None:
    client = await harness.client_for()
    body, headers = delivery("issue.created")
    for _ in range(3):
        await client.post("/webhooks/sentry", content=body, headers=headers)
    await harness.run_worker(harness.settings())
    assert len(harness.sentry.comments_on(ISSUE_ID)) == 1


async def test_job_run_twice_never_posts_twice(harness: WorkerHarness) -> None:
    client = await harness.client_for()
    delivery_id = await post_issue_created(client)
    await harness.run_worker(harness.settings())
    # As if the job ran again after a crash: queued again, its Redis write records lost.
    await harness.redis.delete(*[k async for k in harness.redis.scan_iter("responder:done:*")])
    await harness.store.transition(delivery_id, JobState.DEAD)
    assert await replay_job(harness.store, DeliveryQueue(harness.redis, "responder:queue", 60), delivery_id)
    await harness.redis.incr(f"arq:retry:{delivery_id}")  # a retry, so the footer check runs
    await harness.run_worker(harness.settings())
    assert len(harness.sentry.comments_on(ISSUE_ID)) == 1


async def test_transient_failures_retry_with_backoff_then_succeed(harness: WorkerHarness) -> None:
    client = await harness.client_for()
    delivery_id = await post_issue_created(client)
    # The client's own retries (4 attempts) are spent twice over: the job itself retries.
    harness.sentry.fail_next = [503] * 8
    await harness.run_worker(harness.settings(RESPONDER_MAX_TRIES="5"))
    record = await harness.store.get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.attempts == 3
    assert len(harness.sentry.comments_on(ISSUE_ID)) == 1


async def test_spent_retries_go_to_dead_letters_and_replay(harness: WorkerHarness) -> None:
    client = await harness.client_for()
    delivery_id = await post_issue_created(client)
    harness.sentry.fail_next = [500] * 100
    await harness.run_worker(harness.settings(RESPONDER_MAX_TRIES="2"))
    store = harness.store
    record = await store.get(delivery_id)
    assert record is not None and record.state is JobState.DEAD
    assert record.attempts == 2 and record.error and "SentryServerError" in record.error
    assert await store.dead_ids() == [delivery_id]
    assert record.payload is not None

    harness.sentry.fail_next = []
    assert await replay_job(store, DeliveryQueue(harness.redis, "responder:queue", 60), delivery_id)
    await harness.run_worker(harness.settings(RESPONDER_MAX_TRIES="2"))
    record = await store.get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.replays == 1
    assert await store.dead_ids() == []
    assert len(harness.sentry.comments_on(ISSUE_ID)) == 1


async def test_deleted_issue_fails_without_retry(harness: WorkerHarness) -> None:
    harness.sentry.issues.clear()
    client = await harness.client_for()
    delivery_id = await post_issue_created(client)
    await harness.run_worker(harness.settings())
    record = await harness.store.get(delivery_id)
    assert record is not None and record.state is JobState.FAILED
    assert record.attempts == 1
    assert record.error is not None and "SentryNotFound" in record.error
    assert TOKEN not in record.error
    assert sum(1 for _, path in harness.sentry.calls if path.endswith(f"/issues/{ISSUE_ID}/")) == 1


async def test_dry_run_records_the_plan_and_writes_nothing(harness: WorkerHarness) -> None:
    client = await harness.client_for()
    delivery_id = await post_issue_created(client)
    await harness.run_worker(harness.settings(RESPONDER_DRY_RUN="1"))
    record = await harness.store.get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.dry_run is True and record.plan and record.writeback == []
    assert [m for m, _ in harness.sentry.calls if m != "GET"] == []


async def test_without_a_token_the_payload_is_analysed_in_dry_run(harness: WorkerHarness) -> None:
    client = await harness.client_for()
    body, headers = delivery("error.created")
    await client.post("/webhooks/sentry", content=body, headers=headers)
    await harness.run_worker(harness.make_settings())
    record = await harness.store.get(headers["Request-ID"])
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.dry_run is True
    stack = next(f for f in record.findings if f["handler"] == "stack")
    assert "ReferenceError" in stack["summary"]
    assert harness.sentry.calls == []


async def test_metric_alert_is_recorded_with_what_fired(harness: WorkerHarness) -> None:
    client = await harness.client_for()
    body, headers = delivery("metric_alert.resolved")
    await client.post("/webhooks/sentry", content=body, headers=headers)
    await harness.run_worker(harness.settings())
    record = await harness.store.get(headers["Request-ID"])
    assert record is not None and record.state is JobState.SUCCEEDED
    assert record.findings[0]["data"]["rule"] == "Too many errors"
    assert harness.sentry.calls == []


async def test_a_write_sentry_refuses_is_a_reported_outcome_not_a_retry(harness: WorkerHarness, tmp_path: Any) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("mode: all_matches\nplaybooks:\n  - name: explain\n    actions:\n      comment: true\n"
                     "  - name: route\n    actions:\n      assign: 'user:9999'\n")
    settings = harness.settings(RESPONDER_RULES=str(rules))
    client = await harness.client_for(**{"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org"})
    delivery_id = await post_issue_created(client)
    await harness.run_worker(settings)
    record = await harness.store.get(delivery_id)
    assert record is not None and record.state is JobState.SUCCEEDED and record.attempts == 1, record
    assert [(w["action"], w["outcome"]) for w in record.writeback] == [("comment", "done"), ("assign", "refused")]
    assert record.writeback[1]["detail"] == "assignedTo: Unable to resolve actor identifier"
    [comment] = harness.sentry.comments_on(ISSUE_ID)
    assert "assign to user:9999: refused by Sentry: assignedTo: Unable to resolve actor identifier" in comment
