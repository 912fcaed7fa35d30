"""Write-backs against the strict stand-in: what Sentry refuses is a reported outcome, the comment
is edited once to say what was done, and nothing is announced that did not happen."""

from __future__ import annotations

from typing import Any

import fakeredis
import httpx
import pytest

from shared.sentry.client import SentryClient
from shared.sentry.models import StatusDetails
from standin.app import DEMO_TOKEN, create_standin
from worker.actions import AssignAction, CommentAction, Held, Plan, StatusAction
from worker.outcomes import OutcomeKind
from worker.writeback import WriteBack, footer


@pytest.fixture
def app() -> Any:
    return create_standin()


@pytest.fixture
def sentry(app: Any) -> SentryClient:
    return SentryClient("http://standin/api/0/", DEMO_TOKEN, "demo-org", transport=httpx.ASGITransport(app=app))


@pytest.fixture
def writer(sentry: SentryClient) -> WriteBack:
    return WriteBack(sentry, fakeredis.FakeAsyncRedis(), dedup_ttl_s=600)


def notes_of(app: Any, issue_id: str) -> list[str]:
    return [n["data"]["text"] for n in app.state.standin.notes.get(issue_id, [])]


async def test_the_comment_is_edited_once_to_list_each_outcome(app: Any, sentry: SentryClient, writer: WriteBack) -> None:
    issue = await sentry.get_issue("4001")  # unresolved, backend project (team 1)
    plan = Plan(actions=[
        CommentAction(body="analysis"),
        AssignAction(assignee="user:7", rule="route"),  # maria is not in a team of this project
        StatusAction(status="unresolved", rule="keep-open"),  # already so
    ], held=[Held(action=StatusAction(status="ignored", substatus="archived_until_escalating", rule="noise"),
                  reason="classification permission/auth rests on message only")])
    results = await writer.execute(plan, issue, "d-1", retried=False)
    assert [(r.action, r.outcome) for r in results] == [
        ("comment", OutcomeKind.DONE), ("assign", OutcomeKind.REFUSED), ("set_status", OutcomeKind.ALREADY),
        ("set_status", OutcomeKind.SKIPPED)]
    assert results[1].detail == "assignedTo: Cannot assign to non-team member"
    [note] = notes_of(app, "4001")
    assert "**Actions taken:**" in note and note.endswith(footer("d-1"))
    assert "assign to user:7: refused by Sentry: assignedTo: Cannot assign to non-team member" in note
    assert "unresolve: already so" in note and "ignore \\(archived\\_until\\_escalating\\): skipped" in note
    puts = [c for c in app.state.standin.calls if c["method"] == "PUT" and c["endpoint"] == "note"]
    assert len(puts) == 1  # edited once


async def test_resolve_in_next_release_falls_back_to_resolve_without_a_release(
    app: Any, sentry: SentryClient, writer: WriteBack,
) -> None:
    issue = await sentry.get_issue("1170820242")  # front-end: no release in the project
    action = StatusAction(status="resolvedInNextRelease", details=StatusDetails(in_next_release=True), rule="r")
    results = await writer.execute(Plan(actions=[CommentAction(body="x"), action]), issue, "d-2", retried=False)
    assert results[1].outcome is OutcomeKind.DONE and results[1].description == "resolve"
    assert "no release" in results[1].detail and "No release data present" in results[1].detail
    assert app.state.standin.issues["1170820242"]["status"] == "resolved"
    assert "resolve: done: instead of resolve in next release" in notes_of(app, "1170820242")[0]


async def test_resolve_in_next_release_where_there_is_a_release(app: Any, sentry: SentryClient, writer: WriteBack) -> None:
    issue = await sentry.get_issue("4001")
    action = StatusAction(status="resolvedInNextRelease", details=StatusDetails(in_next_release=True))
    [result] = await writer.execute(Plan(actions=[action]), issue, "d-3", retried=False)
    assert result.outcome is OutcomeKind.DONE and result.description == "resolve in next release"
    again = await sentry.get_issue("4001")  # Sentry's shape: resolved + inNextRelease, so "already so" next time
    [second] = await writer.execute(Plan(actions=[action]), again, "d-4", retried=False)
    assert second.outcome is OutcomeKind.ALREADY


async def test_assignee_forms_sentry_takes_are_done(sentry: SentryClient, writer: WriteBack) -> None:
    for n, form in enumerate(("team:1", "user:42", "ana", "john.doe@example.com")):
        issue = await sentry.get_issue("4001")
        [result] = await writer.execute(Plan(actions=[AssignAction(assignee=form)]), issue, f"a-{n}", retried=False)
        assert result.outcome is OutcomeKind.DONE, (form, result.detail)
    issue = await sentry.get_issue("4001")
    [same] = await writer.execute(Plan(actions=[AssignAction(assignee="user:1")]), issue, "a-x", retried=False)
    assert same.outcome is OutcomeKind.ALREADY


async def test_a_retry_finds_its_own_comment_beyond_the_first_page(app: Any, sentry: SentryClient) -> None:
    issue = await sentry.get_issue("4001")
    await sentry.add_comment("4001", "ours" + footer("d-old"))
    for n in range(120):  # a busy issue: our note is now on the second page
        await sentry.add_comment("4001", f"someone else {n}")
    writer = WriteBack(sentry, fakeredis.FakeAsyncRedis(), dedup_ttl_s=600)  # the record was lost
    [result] = await writer.execute(Plan(actions=[CommentAction(body="ours")]), issue, "d-old", retried=True)
    assert result.outcome is OutcomeKind.ALREADY
    assert sum(1 for t in notes_of(app, "4001") if "d-old" in t) == 1


async def test_a_refused_write_is_recorded_once_not_retried(app: Any, sentry: SentryClient, writer: WriteBack) -> None:
    issue = await sentry.get_issue("4002")
    plan = Plan(actions=[AssignAction(assignee="user:9999")])
    [first] = await writer.execute(plan, issue, "d-5", retried=False)
    [second] = await writer.execute(plan, issue, "d-5", retried=True)
    assert first.outcome is second.outcome is OutcomeKind.REFUSED
    assert first.detail == "assignedTo: Unable to resolve actor identifier"
    assert sum(1 for c in app.state.standin.calls if c["method"] == "PUT") == 1


async def test_a_later_delivery_keeps_what_earlier_ones_did_in_the_comment(app: Any, sentry: SentryClient) -> None:
    redis = fakeredis.FakeAsyncRedis()
    writer = WriteBack(sentry, redis, dedup_ttl_s=600)
    issue = await sentry.get_issue("4001")
    await writer.execute(Plan(actions=[CommentAction(body="first"), AssignAction(assignee="team:1")]), issue, "e-1", False)
    await writer.execute(Plan(actions=[CommentAction(body="second")]), issue, "e-2", False)
    [note] = notes_of(app, "4001")  # one comment per issue, kept current
    assert note.startswith("second") and "assign to team:1: done" in note and note.endswith(footer("e-2"))


async def test_a_comment_deleted_before_the_report_leaves_the_outcomes_on_record(app: Any, sentry: SentryClient) -> None:
    class DeletesFirst(WriteBack):
        async def _report(self, issue: Any, delivery_id: str, comment: tuple[str, str], outcomes: Any) -> None:
            app.state.standin.notes["4001"].clear()  # someone removed the note meanwhile
            await super()._report(issue, delivery_id, comment, outcomes)

    writer = DeletesFirst(sentry, fakeredis.FakeAsyncRedis(), dedup_ttl_s=600)
    issue = await sentry.get_issue("4001")
    results = await writer.execute(Plan(actions=[CommentAction(body="x"), AssignAction(assignee="team:1")]),
                                   issue, "g-1", retried=False)
    assert [r.outcome for r in results] == [OutcomeKind.DONE, OutcomeKind.DONE]
