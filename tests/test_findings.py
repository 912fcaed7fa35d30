"""The issue-21 handlers, pure: each from a context with the facts it needs, no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.sentry.client import SentryClient
from shared.sentry.models import CommitFile, Event, Issue, TagDistribution
from standin import search_terms
from tests.analysis_events import CASES, NOW, context_for, crafted, frame
from worker.analysis.base import AnalysisContext
from worker.analysis.before import what_happened_before
from worker.analysis.changes import suspect_commit
from worker.analysis.facts import Facts, RelatedWindow
from worker.analysis.impact import assess_impact
from worker.analysis.related import related_issues
from worker.analysis.sourcemaps import missing_source_maps
from worker.analysis.spread import who_is_affected
from worker.comment import render_comment
from worker.enrich import EnrichLimits, gather_facts


def hourly(counts: list[int], now: datetime = NOW) -> list[list[int]]:
    top = now.replace(minute=0, second=0, microsecond=0)
    return [[int((top - timedelta(hours=len(counts) - 1 - n)).timestamp()), c] for n, c in enumerate(counts)]


def with_facts(ctx: AnalysisContext, **facts: Any) -> AnalysisContext:
    return AnalysisContext(ctx.resource, ctx.action, ctx.issue, ctx.event, ctx.now, ctx.options, Facts(**facts))


def test_impact_compares_the_hour_so_far_with_the_median_hour() -> None:
    now = NOW + timedelta(minutes=30)  # half of the current hour has passed
    ctx = context_for(CASES["database"][1], firstSeen="2026-11-01T00:00:00Z", substatus="escalating",
                      stats={"24h": hourly([10] * 20 + [500, 10, 10, 100], now)})
    ctx = AnalysisContext(ctx.resource, ctx.action, ctx.issue, ctx.event, now, ctx.options)
    finding = assess_impact(ctx)
    assert finding is not None and finding.source.startswith("issue stats.24h")
    assert finding.data["baseline_per_hour"] == 10.0  # one earlier burst does not move the median
    assert finding.data["multiplier"] == 20.0  # 100 in half an hour against 10 an hour
    assert finding.data["spike"] and finding.data["started_at"] == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert finding.data["substatus"] == "escalating" and "events_per_hour" not in finding.data


def test_impact_never_reports_a_lifetime_average() -> None:
    finding = assess_impact(context_for(CASES["database"][1], count="42", userCount=7))
    assert finding is not None and "events_per_hour" not in finding.data
    assert "/hour" not in render_comment(context_for(CASES["database"][1], count="42"), [finding], [], [])


def test_a_person_reopening_is_not_sentrys_regression() -> None:
    ctx = context_for(CASES["database"][1], substatus="ongoing")
    reopened = AnalysisContext("issue", "unresolved", ctx.issue, ctx.event, NOW, ctx.options,
                               actor={"type": "user", "id": "5", "name": "Dana"})
    finding = assess_impact(reopened)
    assert finding is not None and finding.data["reopened_by"] == "Dana"


def test_a_concentration_is_stated_only_when_there_is_one() -> None:
    hosts = TagDistribution.model_validate({"key": "server_name", "totalValues": 100, "uniqueValues": 12,
                                            "topValues": [{"value": "web-7", "count": 98}, {"value": "web-1", "count": 2}]})
    even = TagDistribution.model_validate({"key": "browser", "totalValues": 100, "uniqueValues": 4,
                                           "topValues": [{"value": f"B{n}", "count": 25} for n in range(4)]})
    finding = who_is_affected(with_facts(context_for(CASES["database"][1]), tags=[hosts, even]))
    assert finding is not None
    assert finding.data["concentrations"] == [{"key": "server_name", "value": "web-7", "percent": 98, "count": 98,
                                               "total": 100, "unique": 12, "noun": "hosts"}]


def test_minified_frames_are_source_maps_missing() -> None:
    event = crafted("javascript", "TypeError", "x is undefined", [
        {"filename": "/a/app-1.2.min.js", "absPath": "https://cdn/a/app-1.2.min.js", "lineNo": 1, "colNo": 9000,
         "inApp": True, "context": [[1, "{snip} a.b.c {snip}"]]}])
    finding = missing_source_maps(context_for(event))
    assert finding is not None and finding.data["files"] == ["app-1.2.min.js"]
    assert missing_source_maps(context_for(CASES["database"][1])) is None  # Python: never


def test_suspect_commit_is_a_changed_file_the_stack_runs_through() -> None:
    files = [CommitFile.model_validate({"filename": "src/app/orders/views.py", "author": {"name": "Al"},
                                        "commitMessage": "fix orders\n\nbody"}),
             CommitFile.model_validate({"filename": "app/other.py", "author": {"name": "Bo"}})]
    found = suspect_commit(with_facts(context_for(CASES["database"][1]), commit_files=files))
    assert found is not None and found["author"] == "Al" and found["message"] == "fix orders"
    assert found["frame"] == "the top in-app frame"


def test_related_issues_alike_make_one_incident() -> None:
    ctx = context_for(CASES["database"][1])
    others = [Issue.model_validate({"id": str(n), "title": t, "metadata": {"type": t.split(":")[0]},
                                    "project": {"slug": "backend"}, "firstSeen": "2026-11-24T11:02:00Z"})
              for n, t in enumerate(["OperationalError: deadlock detected", "IntegrityError: duplicate key",
                                     "ValueError: bad"])]
    window = RelatedWindow(around=NOW, minutes=10, issues=[ctx.issue, *others])
    finding = related_issues(with_facts(ctx, related=window))
    assert finding is not None and finding.data["count"] == 3 and finding.data["alike"] == 2
    assert finding.data["likely_one_incident"]


def test_what_happened_before_reads_the_raw_webhook_event() -> None:
    event = Event.model_validate({
        "title": "x", "breadcrumbs": {"values": [{"timestamp": 1764000000.0, "category": "query", "message": "SELECT 1"}]},
        "request": {"method": "POST", "url": "https://api/x/y?z=1"}, "contexts": {"trace": {"trace_id": "abc"}},
    })
    finding = what_happened_before(context_for(event))
    assert finding is not None
    assert finding.data["request"] == {"method": "POST", "route": "/x/y"} and finding.data["trace_id"] == "abc"
    assert finding.data["breadcrumbs"][0]["text"] == "SELECT 1"


def test_event_text_in_the_new_sections_is_escaped() -> None:
    event = crafted("python", "ValueError", "v", [frame("python", "app/a.py", "f", 1)])
    event.entries.append({"type": "breadcrumbs", "data": {"values": [{"category": "*x*", "message": "`rm` [a](b)"}]}})
    tags = [TagDistribution.model_validate({"key": "customer_tier", "totalValues": 10, "uniqueValues": 1,
                                            "topValues": [{"value": "a`b **c**", "count": 10}]})]
    ctx = with_facts(context_for(event), tags=tags)
    from worker.analysis.registry import default_registry, run_handlers

    text = render_comment(ctx, run_handlers(default_registry(False), ctx), ["r"], [])
    assert "\\*x\\*" in text and "`'rm' [a](b)`" in text and "`a'b **c**`" in text


def refusing() -> SentryClient:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no call expected: {request.url}")

    return SentryClient("https://sentry.test/api/0/", "t", "org", transport=httpx.MockTransport(handle))


async def test_low_budget_fetches_nothing_optional_and_says_so() -> None:
    ctx = context_for(CASES["database"][1], firstRelease={"version": "b@1"}, tags=[{"key": "server_name"}])
    facts = await gather_facts(refusing(), None, ctx, allowance=5, budget_low=True, limits=EnrichLimits())
    assert facts.calls == 0
    assert facts.skipped == ["release (Sentry budget low)", "commits (Sentry budget low)",
                             "tag server_name (Sentry budget low)", "related issues (Sentry budget low)"]


def test_the_standin_search_keeps_issues_first_seen_in_the_window() -> None:
    issue = {"firstSeen": "2026-11-24T09:05:00Z"}
    assert search_terms.matches(issue, "firstSeen:>=2026-11-24T09:00:00 firstSeen:<=2026-11-24T09:10:00")
    assert not search_terms.matches(issue, "firstSeen:>2026-11-24T09:05:00")


def test_only_writes_that_change_something_are_reserved() -> None:
    from worker.actions import AssignAction, CommentAction, Plan, StatusAction
    from worker.analyze import writes_needed

    issue = Issue.model_validate({"id": "1", "status": "unresolved", "assignedTo": {"type": "team", "id": "3"}})
    plan = Plan(actions=[CommentAction(body="x"), AssignAction(assignee="team:3"), StatusAction(status="unresolved")])
    assert writes_needed(plan, issue) == 1
    plan = Plan(actions=[CommentAction(body="x"), AssignAction(assignee="team:4"), StatusAction(status="ignored")])
    assert writes_needed(plan, issue) == 3


async def test_a_slow_sentry_delays_the_comment_by_the_deadline_at_most() -> None:
    import asyncio

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("cancelled before this")

    client = SentryClient("https://sentry.test/api/0/", "t", "org", transport=httpx.MockTransport(slow))
    ctx = context_for(CASES["database"][1], firstRelease={"version": "b@1"})
    facts = await asyncio.wait_for(
        gather_facts(client, None, ctx, allowance=5, budget_low=False, limits=EnrichLimits(deadline_s=0.2)), 10)
    assert "release (Sentry too slow)" in facts.skipped and facts.release is None
