"""The stand-in's release, tag and issue-search endpoints, through the real client, agree with the
issues they belong to."""

from __future__ import annotations

import httpx
import pytest

from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryClientError, SentryNotFound
from standin.app import DEMO_TOKEN, create_standin


@pytest.fixture
def sentry() -> SentryClient:
    transport = httpx.ASGITransport(app=create_standin())
    return SentryClient("http://standin/api/0/", DEMO_TOKEN, "demo-org", transport=transport)


async def test_release_deploy_and_previous_release(sentry: SentryClient) -> None:
    issue = await sentry.get_issue("4001")
    assert issue.first_release is not None
    release = await sentry.get_release(issue.first_release.version, str(issue.project.id))
    assert release.last_deploy is not None and release.last_deploy.environment == "production"
    assert issue.first_seen is not None and release.last_deploy.date_finished is not None
    assert (issue.first_seen - release.last_deploy.date_finished).total_seconds() == 180
    assert release.previous_version == "backend@2.4.0"
    assert (await sentry.get_release(issue.first_release.version)).previous_version is None  # no project
    files = await sentry.list_release_commit_files(issue.first_release.version)
    assert "app/orders/repository.py" in {f.filename for f in files}
    with pytest.raises(SentryNotFound):
        await sentry.get_release("nope@0.0.0")


async def test_tag_distribution_adds_up_to_the_issue_count(sentry: SentryClient) -> None:
    issue = await sentry.get_issue("4002")
    hosts = await sentry.get_issue_tag("4002", "server_name")
    assert hosts.total_values == issue.count and hosts.unique_values == 12
    assert sum(n for _, n in issue.stats["30d"]) == issue.count
    with pytest.raises(SentryNotFound):
        await sentry.get_issue_tag("4002", "no_such_key")


async def test_organization_issue_search_by_first_seen(sentry: SentryClient) -> None:
    issue = await sentry.get_issue("4001")
    assert issue.first_seen is not None
    start = issue.first_seen.strftime("%Y-%m-%dT%H:%M:%S")
    found = await sentry.list_organization_issues(f"firstSeen:>={start}", "24h")
    assert {"4001", "4011", "4012", "4013", "4014"} <= {i.id for i in found}
    assert all(i.first_seen is not None and i.first_seen >= issue.first_seen for i in found)
    with pytest.raises(SentryClientError):
        await sentry.list_organization_issues("", "whenever")
