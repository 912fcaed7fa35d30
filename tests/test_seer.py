"""Sentry's root cause (seer.root_cause_completed) joins the responder's comment, edited in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from redis.asyncio import Redis

from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.settings import Settings
from tests.conftest import TOKEN, delivery
from tests.sentry_fake import FakeSentry
from tests.test_worker import ISSUE_ID, RunWorker, post_issue_created, run_worker, sentry, worker_settings
from worker.seer import splice

__all__ = ["run_worker", "sentry", "worker_settings"]  # fixtures shared with test_worker


async def post_root_cause(client: httpx.AsyncClient) -> str:
    body, headers = delivery("seer.root_cause_completed")
    response = await client.post("/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 202, response.text
    return headers["Request-ID"]


async def test_root_cause_edits_the_existing_comment_never_a_second_one(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    settings = worker_settings()
    client = await client_for(**{"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org"})
    await post_issue_created(client)
    await run_worker(settings)
    assert len(sentry.comments_on(ISSUE_ID)) == 1
    seer_id = await post_root_cause(client)
    await run_worker(settings)
    record = await JobStore(redis).get(seer_id)
    assert record is not None and record.state is JobState.SUCCEEDED, record and record.error
    comments = sentry.comments_on(ISSUE_ID)
    assert len(comments) == 1
    assert "**Sentry's root cause (Seer):** Woah wow there's a bug here." in comments[0]
    assert "Next.js server renders the /dashboard route." in comments[0] and "`src/app/page.ts`" in comments[0]
    assert comments[0].rstrip().endswith("_") and "Sentry Responder · " in comments[0].splitlines()[-1]
    assert sum(1 for method, _ in sentry.calls if method in ("POST", "PUT")) == 2  # one post, one edit


async def test_root_cause_before_any_comment_is_kept_for_the_first_one(
    client_for: Any, redis: Redis, worker_settings: Callable[..., Settings],
    run_worker: RunWorker, sentry: FakeSentry,
) -> None:
    settings = worker_settings()
    client = await client_for(**{"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org"})
    await post_root_cause(client)
    await run_worker(settings)
    assert sentry.comments_on(ISSUE_ID) == []
    await post_issue_created(client)
    await run_worker(settings)
    comments = sentry.comments_on(ISSUE_ID)
    assert len(comments) == 1 and "Woah wow there's a bug here." in comments[0]


def test_splice_replaces_an_earlier_root_cause_and_keeps_the_footer() -> None:
    text = "**Summary**\n\n- evidence\n\n---\n_Sentry Responder · delivery `abc`_"
    once = splice(text, "**Sentry's root cause (Seer):** first")
    twice = splice(once, "**Sentry's root cause (Seer):** second")
    assert twice == "**Summary**\n\n- evidence\n\n**Sentry's root cause (Seer):** second\n\n---\n_Sentry Responder · delivery `abc`_"
