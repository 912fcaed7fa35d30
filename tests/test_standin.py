"""The Sentry stand-in speaks Sentry's paths and shapes, and the real client works against it."""

from __future__ import annotations

import httpx
import pytest

from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryAuthError, SentryNotFound, SentryServerError
from standin.app import DEMO_TOKEN, create_standin


@pytest.fixture
def standin() -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_standin())


def client(transport: httpx.ASGITransport, token: str = DEMO_TOKEN, **kwargs: object) -> SentryClient:
    return SentryClient("http://standin/api/0/", token, "demo-org", transport=transport, **kwargs)  # type: ignore[arg-type]


async def control(transport: httpx.ASGITransport, path: str, json: object = None) -> dict[str, object]:
    async with httpx.AsyncClient(transport=transport, base_url="http://standin") as http:
        response = await (http.post(path, json=json) if json is not None else http.get(path))
        result: dict[str, object] = response.json()
        return result


async def test_the_seeded_issues_and_events_come_back_through_the_real_client(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    for issue_id in ("1170820242", "1117540176", "1", "4001", "4002", "4003"):
        issue = await sentry.get_issue(issue_id)
        event = await sentry.get_event(issue_id, "latest")
        assert issue.id == issue_id and event.exceptions(), issue_id
    assert (await sentry.get_event("4001", "recommended")).exceptions()[-1].type == "OperationalError"


async def test_comments_status_and_assignment_land_in_the_state(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    note = await sentry.add_comment("4001", "hello")
    await sentry.update_comment("4001", note.id, "hello again")
    await sentry.set_status("4001", "resolved")
    await sentry.assign("4001", "team:orders")
    assert [n.text for n in await sentry.list_comments("4001")] == ["hello again"]
    state = await control(standin, "/_standin/state")
    assert state["issues"]["4001"]["status"] == "resolved"  # type: ignore[index]
    assert state["issues"]["4001"]["assignedTo"]["id"] == "orders"  # type: ignore[index]
    calls = await control(standin, "/_standin/calls")
    assert calls["by_endpoint"]["POST comments"] == 1  # type: ignore[index]


async def test_duplicate_comment_is_refused_as_sentry_does(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    await sentry.add_comment("1", "same")
    with pytest.raises(Exception) as info:
        await sentry.add_comment("1", "same")
    assert "already posted" in str(info.value)


async def test_auth_and_not_found(standin: httpx.ASGITransport) -> None:
    with pytest.raises(SentryAuthError):
        await client(standin, token="wrong").get_issue("1")
    with pytest.raises(SentryNotFound):
        await client(standin).get_issue("999")


async def test_injected_faults_then_recovery(standin: httpx.ASGITransport) -> None:
    await control(standin, "/_standin/faults", {"status": 503, "count": 2})
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    sentry = client(standin, sleep=sleep)
    assert (await sentry.get_issue("1")).id == "1"
    assert len(slept) == 2
    await control(standin, "/_standin/faults", {"status": 429, "count": 1, "retry_after_s": 3})
    await sentry.get_issue("1")
    assert slept[-1] == 3.0
    await control(standin, "/_standin/faults", {"status": 500, "count": 10})
    with pytest.raises(SentryServerError):
        await client(standin, sleep=sleep, max_attempts=2).get_issue("1")


async def test_pagination_over_project_issues(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    ids = [i.id async for i in sentry.iter_project_issues("front-end")]
    assert set(ids) >= {"1170820242", "1117540176"}
