"""Every client method against a mocked transport: paths, bodies, errors, retries, pagination."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.sentry.client import SentryClient, next_cursor
from shared.sentry.errors import (
    SentryAuthError,
    SentryClientError,
    SentryForbidden,
    SentryNotFound,
    SentryRateLimited,
    SentryServerError,
    SentryTransportError,
)
from shared.sentry.models import StatusDetails
from tests.helpers import TOKEN, load_webhook
from tests.sentry_fake import api_event_example

BASE = "https://sentry.test/api/0/"
ISSUE = load_webhook("issue.created")["data"]["issue"]

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, *responses: httpx.Response | Handler) -> None:
        self.requests: list[httpx.Request] = []
        self._responses = list(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self._responses.pop(0) if len(self._responses) > 1 else self._responses[0]
        return item(request) if callable(item) else item


def make(recorder: Recorder, **kwargs: Any) -> tuple[SentryClient, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = SentryClient(
        BASE, TOKEN, "test-org", transport=httpx.MockTransport(recorder), sleep=sleep, **kwargs
    )
    return client, slept


async def test_get_issue_uses_the_org_scoped_path_and_bearer_token() -> None:
    rec = Recorder(httpx.Response(200, json=ISSUE))
    client, _ = make(rec)
    issue = await client.get_issue("1170820242")
    assert issue.id == "1170820242" and issue.count == 1
    request = rec.requests[0]
    assert request.url.path == "/api/0/organizations/test-org/issues/1170820242/"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_latest_event_has_frames_and_context_lines() -> None:
    rec = Recorder(httpx.Response(200, json=api_event_example()))
    client, _ = make(rec)
    event = await client.get_event("1", "latest")
    assert rec.requests[0].url.path.endswith("/issues/1/events/latest/")
    frame = event.exceptions()[0].frames[-1]
    assert frame.filename and frame.lineno and frame.context_line is not None
    assert frame.in_app is False


async def test_list_events_and_comments() -> None:
    rec = Recorder(
        httpx.Response(200, json=[{"id": "1", "eventID": "a" * 32, "title": "t"}]),
        httpx.Response(200, json=[{"id": "9", "type": "note", "data": {"text": "hi"}}]),
    )
    client, _ = make(rec)
    page = await client.list_issue_events("5")
    assert page.items[0].event_id == "a" * 32 and page.next_cursor is None
    notes = await client.list_comments("5")
    assert notes.items[0].text == "hi"
    assert rec.requests[1].url.path == "/api/0/organizations/test-org/issues/5/comments/"


async def test_comments_are_redacted_before_posting() -> None:
    rec = Recorder(lambda r: httpx.Response(201, json={"id": "7", "data": json.loads(r.content)}))
    client, _ = make(rec)
    note = await client.add_comment("5", "password=hunter22 mail ops@example.com token sntrys_abcdefghijklmnop")
    sent = json.loads(rec.requests[0].content)["text"]
    assert "hunter22" not in sent and "ops@example.com" not in sent and "sntrys_" not in sent
    assert note.id == "7"
    await client.update_comment("5", "7", "again secret=xyz123456")
    assert rec.requests[1].method == "PUT"
    assert rec.requests[1].url.path.endswith("/issues/5/comments/7/")
    assert "xyz123456" not in json.loads(rec.requests[1].content)["text"]


async def test_status_and_assignment_bodies() -> None:
    rec = Recorder(lambda r: httpx.Response(200, json=json.loads(r.content)))
    client, _ = make(rec)
    await client.set_status("5", "resolved")
    await client.set_status("5", "resolvedInNextRelease", StatusDetails(in_next_release=True))
    await client.set_status("5", "ignored", StatusDetails(ignore_duration=30))
    await client.set_status("5", "ignored", StatusDetails(ignore_count=100, ignore_window=60))
    await client.set_status("5", "ignored", substatus="archived_until_escalating")
    await client.assign("5", "team:3")
    bodies = [json.loads(r.content) for r in rec.requests]
    assert bodies == [
        {"status": "resolved"},
        {"status": "resolvedInNextRelease", "statusDetails": {"inNextRelease": True}},
        {"status": "ignored", "statusDetails": {"ignoreDuration": 30}},
        {"status": "ignored", "statusDetails": {"ignoreCount": 100, "ignoreWindow": 60}},
        {"status": "ignored", "substatus": "archived_until_escalating"},
        {"assignedTo": "team:3"},
    ]
    assert {r.method for r in rec.requests} == {"PUT"}


async def test_pagination_follows_link_cursors_across_three_pages() -> None:
    def page(n: int, more: bool) -> httpx.Response:
        link = (
            f'<{BASE}x>; rel="previous"; results="false"; cursor="0:0:1", '
            f'<{BASE}x>; rel="next"; results="{"true" if more else "false"}"; cursor="0:{n}00:0"'
        )
        return httpx.Response(200, json=[dict(ISSUE, id=str(n))], headers={"Link": link})

    rec = Recorder(page(1, True), page(2, True), page(3, False))
    client, _ = make(rec)
    ids = [issue.id async for issue in client.iter_project_issues("front-end", query="is:unresolved")]
    assert ids == ["1", "2", "3"]
    assert rec.requests[0].url.path == "/api/0/projects/test-org/front-end/issues/"
    assert [r.url.params.get("cursor") for r in rec.requests] == [None, "0:100:0", "0:200:0"]


def test_next_cursor_stops_when_results_false() -> None:
    assert next_cursor('<u>; rel="next"; results="false"; cursor="0:100:0"') is None
    assert next_cursor(None) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, SentryAuthError), (403, SentryForbidden), (404, SentryNotFound), (400, SentryClientError),
     (409, SentryClientError), (500, SentryServerError), (502, SentryServerError)],
)
async def test_error_mapping_carries_status_detail_and_path_never_the_token(
    status: int, kind: type[Exception]
) -> None:
    rec = Recorder(httpx.Response(status, json={"detail": "nope"}))
    client, _ = make(rec, max_attempts=1)
    with pytest.raises(kind) as info:
        await client.get_issue("42")
    error = info.value
    assert error.status == status and error.detail == "nope"  # type: ignore[attr-defined]
    assert error.path == "/api/0/organizations/test-org/issues/42/"  # type: ignore[attr-defined]
    assert TOKEN not in str(error) and TOKEN not in repr(error)


async def test_429_is_retried_after_a_short_retry_after() -> None:
    rec = Recorder(
        httpx.Response(429, json={"detail": "slow down"}, headers={"Retry-After": "3"}),
        httpx.Response(200, json=ISSUE),
    )
    client, slept = make(rec)
    assert (await client.get_issue("1")).id == ISSUE["id"]
    assert slept == [3.0]


async def test_429_with_a_long_retry_after_ends_the_call_without_sleeping() -> None:
    """A job does not sleep long: the error carries the wait, the job defers itself by it."""
    rec = Recorder(
        httpx.Response(429, json={"detail": "slow down"}, headers={"Retry-After": "7"}),
        httpx.Response(200, json=ISSUE),
    )
    client, slept = make(rec)
    with pytest.raises(SentryRateLimited) as info:
        await client.get_issue("1")
    assert info.value.retry_after_s == 7.0 and slept == [] and len(rec.requests) == 1


async def test_429_without_retry_after_carries_sentrys_reset_header() -> None:
    import time

    reset = int(time.time()) + 30
    rec = Recorder(
        httpx.Response(429, json={"detail": "Limit is 100"}, headers={"X-Sentry-Rate-Limit-Reset": str(reset)}),
        httpx.Response(200, json=ISSUE),
    )
    client, slept = make(rec)
    with pytest.raises(SentryRateLimited) as info:
        await client.get_issue("1")
    assert 25 < info.value.retry_after_s <= 30 and slept == []


async def test_503_is_retried_with_backoff_then_gives_up() -> None:
    rec = Recorder(httpx.Response(503, text="unavailable"))
    client, slept = make(rec, max_attempts=3)
    with pytest.raises(SentryServerError):
        await client.get_issue("1")
    assert len(rec.requests) == 3 and len(slept) == 2
    assert all(0 <= s <= 8 for s in slept)


async def test_503_then_success() -> None:
    rec = Recorder(httpx.Response(503), httpx.Response(200, json=ISSUE))
    client, _ = make(rec)
    await client.get_issue("1")
    assert len(rec.requests) == 2


async def test_404_is_not_retried() -> None:
    rec = Recorder(httpx.Response(404, json={"detail": "gone"}))
    client, slept = make(rec)
    with pytest.raises(SentryNotFound):
        await client.get_issue("1")
    assert len(rec.requests) == 1 and slept == []


async def test_transport_errors_are_retried_and_named() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    rec = Recorder(boom)
    client, _ = make(rec, max_attempts=2)
    with pytest.raises(SentryTransportError) as info:
        await client.get_issue("1")
    assert info.value.transient and info.value.status is None
    assert len(rec.requests) == 2


async def test_rate_limit_headers_block_everyone_until_reset() -> None:
    import time

    from shared.sentry.ratelimit import BudgetWait, LocalRateLimiter

    limiter = LocalRateLimiter(limit=1000)
    reset = int(time.time()) + 20
    rec = Recorder(
        httpx.Response(200, json=ISSUE, headers={"X-Sentry-Rate-Limit-Remaining": "0", "X-Sentry-Rate-Limit-Reset": str(reset)})
    )
    client, slept = make(rec, limiter=limiter)
    await client.get_issue("1")
    with pytest.raises(BudgetWait) as info:  # too long to sleep in a job: nothing reserved, no call
        await client.get_issue("1")
    assert 15 < info.value.wait_s <= 20 and slept == [] and len(rec.requests) == 1
    assert await limiter.remaining() == 0


async def test_metrics_hook_sees_every_attempt() -> None:
    calls: list[tuple[str, str, int | None]] = []
    rec = Recorder(httpx.Response(503), httpx.Response(200, json=ISSUE))
    client, _ = make(rec, on_call=lambda m, e, s, _t: calls.append((m, e, s)))
    await client.get_issue("1")
    assert calls == [("GET", "issues", 503), ("GET", "issues", 200)]


async def test_a_call_in_a_job_ends_within_its_retry_budget_even_when_sentry_hangs() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json=ISSUE)

    client = SentryClient(BASE, TOKEN, "test-org", transport=httpx.MockTransport(hang), timeout_s=60,
                          retry_budget_s=0.3)
    started = time.monotonic()
    with pytest.raises(SentryTransportError) as info:
        await client.get_issue("1")
    assert time.monotonic() - started < 10  # far below the 30 s hang and the 60 s timeout, however busy
    assert info.value.transient and "RetryBudgetSpent" in str(info.value)


async def test_no_backoff_sleep_past_the_retry_budget() -> None:
    rec = Recorder(httpx.Response(429, headers={"Retry-After": "4"}))
    client, slept = make(rec, retry_budget_s=3)
    with pytest.raises(SentryRateLimited):
        await client.get_issue("1")
    assert len(rec.requests) == 1 and slept == []  # a 4 s wait would outlast the 3 s budget


class ThreeSecondsToWait:
    """A shared budget with room in 3 s (a job's inline wait may be up to 5 s)."""

    async def acquire(self, max_wait_s: float | None = None) -> float:
        from shared.sentry.ratelimit import BudgetWait

        if max_wait_s is not None and max_wait_s < 3.0:
            raise BudgetWait(3.0)
        return 3.0

    async def remaining(self) -> int:
        return 0

    async def block_until(self, reset_epoch_s: float) -> None:
        pass


async def test_a_jobs_inline_waits_leave_room_before_its_timeout() -> None:
    """Waits summed over a job's calls ran into its timeout (a try spent per timeout, five times:
    dead); near the job's deadline a wait ends the try as a deferral (BudgetWait, no try spent)."""
    from shared.sentry.client import JOB_DEADLINE
    from shared.sentry.ratelimit import BudgetWait

    rec = Recorder(httpx.Response(200, json=ISSUE))
    client, slept = make(rec, limiter=ThreeSecondsToWait())
    await client.get_issue("1")  # outside a job: the 3 s wait is within the 5 s it may sleep
    assert slept == [3.0] and len(rec.requests) == 1
    token = JOB_DEADLINE.set(time.monotonic() + 20)  # a job with 20 s left: half is 10 s, fine
    try:
        await client.get_issue("1")
        assert slept == [3.0, 3.0]
        JOB_DEADLINE.set(time.monotonic() + 4)  # 4 s left: a 3 s wait would leave too little
        with pytest.raises(BudgetWait):
            await client.get_issue("1")
    finally:
        JOB_DEADLINE.reset(token)
    assert slept == [3.0, 3.0] and len(rec.requests) == 2
