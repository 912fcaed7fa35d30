"""Findings worth reading (issue 21): five stories through the stand-in, a real Redis and the real
client, each comment checked as a whole against a golden file, each question answered, and the
Sentry calls of each analysis counted at the stand-in (issue, event and write-back included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

from bench.findings import StoryRunner
from tests.test_comment import check_golden

NOW = datetime(2026, 11, 24, 12, 40, tzinfo=UTC)
MAX_CALLS = 8


@pytest.fixture
async def story(redis: Redis, make_settings: Any) -> StoryRunner:
    return StoryRunner(redis, make_settings(), NOW)


def summary(text: str) -> list[str]:
    return text.split("\n\n", 1)[0].splitlines()


async def test_django_timeout_right_after_a_deploy(story: StoryRunner) -> None:
    analysis, text, calls = await story.run("4001")
    check_golden("findings_django_after_deploy.md", text)
    head = summary(text)
    assert 3 <= len(head) <= 5
    assert head[0].startswith("**Database · new (Sentry) · priority high**: 1,")
    assert "first seen 20 min ago" in head[0]
    assert "first seen 3 min after `backend@2.4.1` was deployed to `production`" in head[1]
    assert "Alice Moreau" in head[1] and "`app/orders/repository.py`, the top in-app frame" in head[1]
    assert "rollback candidate `backend@2.4.0`" in head[1]
    assert "4 other issues started within 10 min in backend, 3 of them database: likely one incident" in text
    assert "[BACKEND-3G](https://sentry.io/organizations/demo-org/issues/4011/)" in text
    assert "`GET /api/orders/`" in text and "trace `4c1f0e2a9b8d4f6e8a7b6c5d4e3f2a1b`" in text
    assert "api-7" not in head[2]  # spread evenly over 12 hosts: no concentration is claimed
    assert len(calls) <= MAX_CALLS, calls
    assert analysis.ctx.facts.skipped == []


async def test_minified_javascript_without_source_maps(story: StoryRunner) -> None:
    _, text, calls = await story.run("4004")
    check_golden("findings_minified_js.md", text)
    assert "**Source maps missing** for `runner-4.1.7.min.js`" in text
    assert "{snip}" not in text and "n.dataset.id" not in text
    assert "only browser `Safari 17.1`" in text and "3 user reports" in text
    assert len(calls) <= MAX_CALLS, calls


async def test_java_npe_on_one_host_of_twelve(story: StoryRunner) -> None:
    _, text, calls = await story.run("4002")
    check_golden("findings_java_one_host.md", text)
    assert "98% on server\\_name `web-7` (1 of 12 hosts)" in text
    assert "Sentry's suspect commit is by `user:42`" in text
    assert "commitfiles" not in " ".join(calls)  # Sentry named the suspect: no need to look
    assert len(calls) <= MAX_CALLS, calls


async def test_old_go_panic_spiking_twenty_fold(story: StoryRunner) -> None:
    _, text, calls = await story.run("4005")
    check_golden("findings_go_spike.md", text)
    head = summary(text)
    assert head[0].startswith("**Code defect · escalating (Sentry) · priority high**: 400 events since 12:00 UTC (40 min)")
    assert "20.0\u00d7 the usual 30.0/hour (median day of the previous 29 days)" in head[0]
    assert "no deploy in the 24 h before it began" in head[1]
    assert "rising since 12:00 UTC" in head[0]
    assert "1 other issue started within 10 min in ingest" in text
    assert len(calls) <= MAX_CALLS, calls


async def test_reopened_by_a_person_next_to_one_sentry_marked_regressed(story: StoryRunner) -> None:
    _, person, person_calls = await story.run("4006")
    _, regressed, regressed_calls = await story.run("4003")
    check_golden("findings_reopened_by_person.md", person)
    check_golden("findings_regressed.md", regressed)
    assert "re-opened by Dana Scott (Sentry: ongoing, not a regression)" in person
    assert "regress" not in person.replace("not a regression", "")
    assert "regressed (Sentry)" in regressed and "resolved in web\\@1.7.3, back in web\\@1.8.0" in regressed
    assert "began 3 min after `web@1.8.0` was deployed to `production`" in regressed
    assert "One incident" not in regressed
    assert "`src/components/CartSummary.jsx`, the top in-app frame" in regressed
    assert len(person_calls) <= MAX_CALLS and len(regressed_calls) <= MAX_CALLS


async def test_a_release_is_fetched_once_for_all_its_issues(story: StoryRunner) -> None:
    await story.run("4001")
    await story.run("4006")  # same release, backend@2.4.1: cached
    assert [c["endpoint"] for c in story.state.calls].count("release") == 1


async def test_low_budget_skips_the_enrichments_never_the_comment(story: StoryRunner) -> None:
    story.settings = story.settings.model_copy(update={"analysis_max_calls": 4})
    analysis, text, calls = await story.run("4001")
    assert len(calls) <= 4, calls
    assert "related issues (call allowance spent)" in analysis.ctx.facts.skipped
    assert "_Not checked: " in text and "related issues \\(call allowance spent\\)" in text
    assert analysis.plan.of_kind("comment")
