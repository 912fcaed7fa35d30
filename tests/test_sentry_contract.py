"""Every method of the Sentry client, against the strict stand-in and, when asked, a real Sentry.

The same test body runs twice: on the stand-in (always), and on a real organization when
SENTRY_LIVE_TOKEN and SENTRY_LIVE_ORG are set (skipped otherwise). Live, it needs an issue to
work on (SENTRY_LIVE_ISSUE, default: the first unresolved issue of SENTRY_LIVE_PROJECT) and,
to try assignment, SENTRY_LIVE_ASSIGNEE (`user:<id>` or `team:<id>` with access to the project).
It posts one comment on that issue and edits it, and sets the issue unresolved (no-op when it is
already). Base URL: SENTRY_LIVE_URL (default https://sentry.io/api/0/). See README, "Tests against
a real Sentry".
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryClientError
from shared.sentry.models import IssueUpdate
from standin.app import DEMO_TOKEN, create_standin


@dataclass
class Target:
    client: SentryClient
    issue_id: str
    project: str
    assignee: str | None
    live: bool


@pytest.fixture(params=["standin", "live"])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    if request.param == "standin":
        transport = httpx.ASGITransport(app=create_standin())
        client = SentryClient("http://standin/api/0/", DEMO_TOKEN, "demo-org", transport=transport)
        yield Target(client, "4001", "backend", "team:1", live=False)
        await client.aclose()
        return
    token, org = os.environ.get("SENTRY_LIVE_TOKEN"), os.environ.get("SENTRY_LIVE_ORG")
    if not token or not org:
        pytest.skip("set SENTRY_LIVE_TOKEN and SENTRY_LIVE_ORG to run against a real Sentry")
    base = os.environ.get("SENTRY_LIVE_URL", "https://sentry.io/api/0/")
    client = SentryClient(base, token, org, transport=httpx.AsyncHTTPTransport())
    project = os.environ.get("SENTRY_LIVE_PROJECT", "")
    issue_id = os.environ.get("SENTRY_LIVE_ISSUE")
    if issue_id is None:
        if not project:
            pytest.skip("set SENTRY_LIVE_ISSUE or SENTRY_LIVE_PROJECT")
        page = await client.list_project_issues(project, query="is:unresolved")
        if not page.items:
            pytest.skip(f"no unresolved issue in {project}")
        issue_id = page.items[0].id
    issue = await client.get_issue(issue_id)
    yield Target(client, issue_id, project or str(issue.project.slug), os.environ.get("SENTRY_LIVE_ASSIGNEE"), True)
    await client.aclose()


async def test_reads(target: Target) -> None:
    sentry = target.client
    issue = await sentry.get_issue(target.issue_id)
    assert issue.id == target.issue_id and issue.project.slug
    events = await sentry.list_issue_events(target.issue_id)
    assert events.items and events.items[0].event_id
    latest = await sentry.get_event(target.issue_id, "latest")
    assert latest.event_id and latest.platform == issue.platform
    page = await sentry.list_project_issues(target.project)
    assert page.items
    first = [i.id async for i in sentry.iter_project_issues(target.project)]
    assert target.issue_id in first or not target.live  # live: the issue may be beyond a filter


async def test_comments(target: Target) -> None:
    sentry = target.client
    text = f"sentry-responder contract test {time.time():.0f}"
    note = await sentry.add_comment(target.issue_id, text)
    edited = await sentry.update_comment(target.issue_id, note.id, text + " (edited)")
    assert edited.id == note.id and edited.text.endswith("(edited)")
    page = await sentry.list_comments(target.issue_id)
    assert any(n.id == note.id for n in page.items)
    assert note.id in [n.id async for n in sentry.iter_comments(target.issue_id)]
    with pytest.raises(SentryClientError) as info:
        await sentry.add_comment(target.issue_id, text + " (edited)")
    assert info.value.detail == "You have already posted that comment."


async def test_status_and_assignment(target: Target) -> None:
    sentry = target.client
    reopened = await sentry.set_status(target.issue_id, "unresolved")
    assert reopened.body["status"] == "unresolved"
    with pytest.raises(SentryClientError) as info:
        await sentry.assign(target.issue_id, "team:no-such-slug")
    assert "Unable to resolve actor identifier" in info.value.detail or "Could not parse" in info.value.detail
    if target.assignee is None:
        pytest.skip("set SENTRY_LIVE_ASSIGNEE to try assignment")
    assigned = await sentry.assign(target.issue_id, target.assignee)
    kind, _, ident = target.assignee.partition(":")
    assert assigned.body["assignedTo"]["type"] == kind and str(assigned.body["assignedTo"]["id"]) == ident
    if not target.live:  # a real issue keeps its status; the stand-in shows the full round trip
        resolved = await sentry.set_status(target.issue_id, "resolvedInNextRelease")
        assert resolved.body["status"] == "resolved" and resolved.body["statusDetails"]["inNextRelease"]
        archive = IssueUpdate(status="ignored", substatus="archived_until_escalating")
        ignored = await sentry.update_issue(target.issue_id, archive)
        assert ignored.body["substatus"] == "archived_until_escalating"
