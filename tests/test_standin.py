"""The strict stand-in refuses what Sentry refuses and answers in Sentry's shapes; each finding of
issue 20 is caught here by the stand-in, through the real client where the client is involved."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from shared.sentry.client import SentryClient, next_cursor
from shared.sentry.errors import SentryAuthError, SentryClientError, SentryNotFound, SentryServerError
from shared.sentry.models import StatusDetails
from standin.app import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TOKEN, create_standin, seed
from standin.state import StandinState, organization_seed

BASE = "http://standin/api/0/"


@pytest.fixture
def app() -> Any:
    return create_standin()


@pytest.fixture
def standin(app: Any) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)


def client(transport: httpx.ASGITransport, token: str = DEMO_TOKEN, **kwargs: object) -> SentryClient:
    return SentryClient(BASE, token, "demo-org", transport=transport, **kwargs)  # type: ignore[arg-type]


async def raw(transport: httpx.ASGITransport, method: str, path: str, json: object = None,
              token: str | None = DEMO_TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://standin") as http:
        return await http.request(method, path, json=json, headers=headers)


async def control(transport: httpx.ASGITransport, path: str, json: object = None) -> Any:
    response = await raw(transport, "POST" if json is not None else "GET", path, json, token=None)
    return response.json()


async def refused(call: Any) -> str:
    with pytest.raises(SentryClientError) as info:
        await call
    assert info.value.status == 400
    return info.value.detail


ISSUE = "/api/0/organizations/demo-org/issues/"


# --- seed


def releases_of(data: dict[str, Any], project: dict[str, Any]) -> list[str]:
    """The project's releases: the organization seed's and the full release objects of the seed
    that name it (the stories' releases, standin/scenarios.py)."""
    held = [v for v, r in data.get("releases", {}).items() if any(p.get("slug") == project["slug"] for p in r["projects"])]
    return [*project["releases"], *held]


def test_the_seed_agrees_with_itself() -> None:
    data, org = seed(), organization_seed()
    projects = {p["slug"]: p for p in org["projects"]}
    assert len({p["id"] for p in org["projects"]}) == len(org["projects"])
    for issue in data["issues"]:
        project = projects[issue["project"]["slug"]]
        assert issue["project"]["id"] == project["id"] and issue["project"]["platform"] == project["platform"]
        event = data["events"].get(issue["id"])
        if event is not None:
            assert event["platform"] == issue["platform"], issue["id"]
            release = event.get("release")
            if release:
                assert release["version"] in releases_of(data, project), issue["id"]
        for key in ("firstRelease", "lastRelease"):
            if issue.get(key):
                assert issue[key]["version"] in releases_of(data, project), (issue["id"], key)
    teams = {t["id"] for t in org["teams"]}
    assert all(set(m["teams"]) <= teams for m in org["members"])


async def test_the_seeded_issues_and_events_come_back_through_the_real_client(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    for issue_id in ("1170820242", "1117540176", "1", "4001", "4002", "4003"):
        issue = await sentry.get_issue(issue_id)
        event = await sentry.get_event(issue_id, "latest")
        assert issue.id == issue_id and event.exceptions() and event.platform == issue.platform, issue_id
    assert (await sentry.get_event("4001", "recommended")).exceptions()[-1].type == "OperationalError"
    assert (await sentry.get_issue("4001")).owners[0].owner == "team:1"  # expand=owners
    assert (await sentry.get_issue("BACKEND-3F")).id == "4001"


# --- assignment


@pytest.mark.parametrize("form", ["user:42", "42", "ana", "ana@example.com", "ANA@example.com"])
async def test_every_user_form_sentry_takes_is_resolved(standin: httpx.ASGITransport, form: str) -> None:
    answer = await client(standin).assign("4001", form)
    assert answer.body["assignedTo"] == {"type": "user", "id": "42", "name": "Ana Lima", "email": "ana@example.com"}


async def test_a_team_is_assigned_by_id_and_refused_by_slug(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    assert (await sentry.assign("4001", "team:1")).body["assignedTo"] == {"type": "team", "id": "1", "name": "orders"}
    for slug in ("team:orders", "#orders", "orders", "nobody@example.com", "user:9999", "team:99"):
        assert await refused(sentry.assign("4002", slug)) == "assignedTo: Unable to resolve actor identifier", slug
    assert await refused(sentry.assign("4001", "user:7")) == "assignedTo: Cannot assign to non-team member"
    assert await refused(sentry.assign("4001", "team:3")) == (
        "assignedTo: Cannot assign to a team without access to the project")
    state = await control(standin, "/_standin/state")
    assert state["issues"]["4002"]["assignedTo"] is None  # nothing refused was stored


# --- status


async def test_resolve_in_next_release_is_stored_as_sentry_stores_it(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    answer = await sentry.set_status("4001", "resolvedInNextRelease")
    assert answer.body["status"] == "resolved" and answer.body["statusDetails"]["inNextRelease"] is True
    issue = await sentry.get_issue("4001")
    assert (issue.status, issue.substatus, issue.status_details["inNextRelease"]) == ("resolved", None, True)


async def test_resolve_in_next_release_without_releases_is_refused(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    detail = await refused(sentry.set_status("1170820242", "resolvedInNextRelease"))
    assert detail == "statusDetails.inNextRelease: No release data present in the system to form a basis for 'Next Release'"
    assert (await sentry.get_issue("1170820242")).status == "unresolved"


async def test_status_values_and_details_are_validated(standin: httpx.ASGITransport) -> None:
    path = ISSUE + "4001/"
    bad = await raw(standin, "PUT", path, {"status": "closed"})
    assert bad.status_code == 400 and bad.json() == {"status": ['"closed" is not a valid choice.']}
    bad = await raw(standin, "PUT", path, {"status": "ignored", "statusDetails": {"ignoreWindow": 20000, "ignoreCount": 5}})
    assert bad.json() == {"statusDetails": {"ignoreWindow": ["Ensure this value is less than or equal to 10080."]}}
    bad = await raw(standin, "PUT", path, {"status": "ignored", "statusDetails": {"ignoreUserWindow": 10081,
                                                                                  "ignoreUserCount": 3}})
    assert bad.json() == {"statusDetails": {"ignoreUserWindow": ["Ensure this value is less than or equal to 10080."]}}
    bad = await raw(standin, "PUT", path, {"status": "ignored", "statusDetails": {"ignoreCount": 0}})
    assert bad.json() == {"statusDetails": {"ignoreCount": ["Ensure this value is greater than or equal to 1."]}}
    bad = await raw(standin, "PUT", path, {"status": "resolved", "statusDetails": {"in_next_release": True}})
    assert bad.status_code == 400 and "in_next_release" in bad.json()["statusDetails"]
    bad = await raw(standin, "PUT", path, {"status": "resolved", "statusDetails": {"inRelease": "backend@9"}})
    assert bad.json() == {"statusDetails": {"inRelease": ["Unable to find a release with the given version."]}}
    bad = await raw(standin, "PUT", path, "not an object")
    assert bad.status_code == 400


async def test_ignore_values_sentry_cannot_store_fail_as_sentry_fails(standin: httpx.ASGITransport) -> None:
    """Sentry's serializer passes counts and durations unbounded: a count beyond the Postgres
    integer column and a duration past datetime's year 9999 are 500s with Sentry's body."""
    path = ISSUE + "4001/"
    for details in ({"ignoreCount": 2**31}, {"ignoreUserCount": 2**31, "ignoreUserWindow": 60},
                    {"ignoreDuration": 10**30}, {"ignoreDuration": 5_000_000_000}):
        bad = await raw(standin, "PUT", path, {"status": "ignored", "statusDetails": details})
        assert bad.status_code == 500, details
        body = bad.json()
        assert body["detail"] == "Internal Error" and re.fullmatch(r"[0-9a-f]{32}", body["errorId"]), body
    assert (await client(standin).get_issue("4001")).status == "unresolved"
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    sentry = client(standin, sleep=sleep, max_attempts=2)  # a 5xx to the client: transient, retried, then raised
    with pytest.raises(SentryServerError) as info:
        await sentry.set_status("4001", "ignored", StatusDetails(ignore_count=2**31))
    assert info.value.transient and info.value.status == 500 and len(slept) == 1
    # what Sentry stores: the largest count, and a duration of thousands of years (an integer column
    # would refuse 2**31 minutes; Sentry's datetime takes it)
    for details in ({"ignoreCount": 2**31 - 1}, {"ignoreDuration": 2**31}, {"ignoreDuration": 4_000_000_000}):
        ok = await raw(standin, "PUT", path, {"status": "ignored", "statusDetails": details})
        assert ok.status_code == 200, (details, ok.text)
        assert ok.json()["statusDetails"] | details == ok.json()["statusDetails"]


async def test_each_status_change_answers_sentrys_shape(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    ignored = (await sentry.set_status("4002", "ignored", substatus="archived_until_escalating")).body
    assert ignored["status"] == "ignored" and ignored["substatus"] == "archived_until_escalating"
    counted = await raw(standin, "PUT", ISSUE + "4003/", {"status": "ignored", "statusDetails": {"ignoreCount": 5}})
    assert counted.json()["substatus"] == "archived_until_condition_met"
    assert counted.json()["statusDetails"]["ignoreCount"] == 5
    reopened = (await sentry.set_status("4002", "unresolved")).body
    assert reopened == {"status": "unresolved", "substatus": "ongoing", "statusDetails": {}}
    resolved = (await sentry.set_status("4002", "resolved")).body
    assert resolved["status"] == "resolved" and resolved["substatus"] is None and resolved["statusDetails"] == {}


# --- notes


async def test_a_note_needs_text(standin: httpx.ASGITransport) -> None:
    for body in ({}, {"text": None}, {"text": "  "}):
        answer = await raw(standin, "POST", ISSUE + "4001/comments/", body)
        assert answer.status_code == 400 and "text" in answer.json(), body
    assert (await raw(standin, "POST", ISSUE + "4001/comments/", {})).json() == {"text": ["This field is required."]}


async def test_only_the_author_edits_or_deletes_a_note(standin: httpx.ASGITransport) -> None:
    mine = await client(standin).add_comment("4001", "from the responder")
    other = (await control(standin, "/_standin/tokens", {"user_id": "42"}))["token"]
    with pytest.raises(SentryNotFound):
        await client(standin, token=other).update_comment("4001", mine.id, "hijacked")
    assert (await raw(standin, "DELETE", ISSUE + f"4001/notes/{mine.id}/", token=other)).status_code == 404
    theirs = await client(standin, token=other).add_comment("4001", "a person's note")
    assert theirs.user is not None and theirs.user["id"] == "42"
    assert (await client(standin).update_comment("4001", mine.id, "edited")).text == "edited"


async def test_duplicate_note_within_an_hour_is_refused(app: Any, standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    await sentry.add_comment("1", "same")
    assert await refused(sentry.add_comment("1", "same")) == "You have already posted that comment."
    other = (await control(standin, "/_standin/tokens", {"user_id": "1"}))["token"]
    await client(standin, token=other).add_comment("1", "same")  # another user may say the same
    state: StandinState = app.state.standin
    state.clock_offset_s = 3601
    await sentry.add_comment("1", "same")  # an hour later, so may the responder


async def test_the_deprecated_unscoped_notes_path_says_so(standin: httpx.ASGITransport) -> None:
    answer = await raw(standin, "GET", "/api/0/issues/4001/comments/")
    assert answer.status_code == 200 and "x-sentry-deprecation-date" in answer.headers


# --- pagination


async def test_notes_events_and_issue_lists_are_paginated_with_sentrys_link(standin: httpx.ASGITransport) -> None:
    sentry = client(standin)
    for n in range(105):
        await sentry.add_comment("4001", f"note {n}")
    first = await sentry.list_comments("4001")
    assert len(first.items) == 100 and first.next_cursor == "0:100:0"
    everything = [n.text async for n in sentry.iter_comments("4001")]
    assert len(everything) == 105 and everything[0] == "note 104" and everything[-1] == "note 0"
    answer = await raw(standin, "GET", ISSUE + "4001/comments/?cursor=0:100:0")
    assert len(answer.json()) == 5 and next_cursor(answer.headers["link"]) is None
    assert 'rel="previous"; results="true"; cursor="0:0:1"' in answer.headers["link"]
    events = await raw(standin, "GET", ISSUE + "4001/events/")
    assert 'rel="next"; results="false"' in events.headers["link"]
    issues = await raw(standin, "GET", "/api/0/organizations/demo-org/issues/?limit=2")
    assert len(issues.json()) == 2 and next_cursor(issues.headers["link"]) == "0:2:0"
    assert (await raw(standin, "GET", ISSUE + "4001/comments/?cursor=nonsense")).json() == {
        "detail": "Invalid cursor parameter."}


# --- rate limits


async def test_every_answer_carries_sentrys_rate_limit_headers(standin: httpx.ASGITransport) -> None:
    for method, path, token in (("GET", ISSUE + "4001/", DEMO_TOKEN), ("GET", ISSUE + "999/", DEMO_TOKEN),
                                ("GET", ISSUE + "4001/", "wrong"), ("PUT", ISSUE + "4001/", DEMO_TOKEN)):
        answer = await raw(standin, method, path, {"status": "nope"} if method == "PUT" else None, token=token)
        for name in ("limit", "remaining", "reset", "concurrentlimit", "concurrentremaining"):
            assert f"x-sentry-rate-limit-{name}" in answer.headers, (path, name)


async def test_over_the_limit_is_a_429_without_retry_after(standin: httpx.ASGITransport) -> None:
    await control(standin, "/_standin/ratelimit", {"limit": 2, "window_s": 60})
    statuses = [(await raw(standin, "GET", ISSUE + "4001/")) for _ in range(3)]
    assert [s.status_code for s in statuses] == [200, 200, 429]
    last = statuses[-1]
    assert "retry-after" not in last.headers and last.headers["x-sentry-rate-limit-remaining"] == "0"
    assert last.json()["detail"].startswith("You are attempting to use this endpoint too frequently. Limit is 2")


async def test_over_the_concurrency_limit_is_a_429(app: Any, standin: httpx.ASGITransport) -> None:
    await control(standin, "/_standin/ratelimit", {"concurrent": 1})
    await control(standin, "/_standin/faults", {"latency_s": 0.2})
    answers = await asyncio.gather(*(raw(standin, "GET", ISSUE + "4001/") for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 429, 429]
    assert "concurrency" in next(a for a in answers if a.status_code == 429).json()["detail"]


async def test_the_client_narrows_to_sentrys_concurrent_limit(standin: httpx.ASGITransport) -> None:
    await control(standin, "/_standin/ratelimit", {"concurrent": 2})
    sentry = client(standin, max_in_flight=16)
    await sentry.get_issue("4001")  # learns the limit from the headers
    await control(standin, "/_standin/faults", {"latency_s": 0.05})
    issues = await asyncio.gather(*(sentry.get_issue("4001") for _ in range(8)))
    assert len(issues) == 8  # no concurrency 429 reached the caller, none was needed
    calls = (await control(standin, "/_standin/calls"))["calls"]
    assert all(c["status"] == 200 for c in calls)


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
    assert 2.0 <= slept[-1] <= 3.0  # until Sentry's reset header, as no Retry-After comes
    await control(standin, "/_standin/faults", {"status": 500, "count": 10})
    with pytest.raises(SentryServerError):
        await client(standin, sleep=sleep, max_attempts=2).get_issue("1")


async def test_auth_and_not_found(standin: httpx.ASGITransport) -> None:
    with pytest.raises(SentryAuthError):
        await client(standin, token="wrong").get_issue("1")
    with pytest.raises(SentryNotFound):
        await client(standin).get_issue("999")


# --- token exchange

UUID = "6c4f8dd1-0000-4000-8000-000000000001"
AUTHORIZE = f"/api/0/sentry-app-installations/{UUID}/authorizations/"


def grant(code: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET} | extra


async def test_the_token_exchange_checks_everything_sentry_checks(app: Any, standin: httpx.ASGITransport) -> None:
    code = (await control(standin, "/_standin/installations", {"uuid": UUID}))["code"]
    assert (await raw(standin, "POST", AUTHORIZE, grant(code, client_secret="nope"), None)).status_code == 401
    assert (await raw(standin, "POST", AUTHORIZE, grant(code, client_id="other"), None)).status_code == 401
    assert (await raw(standin, "POST", AUTHORIZE, grant(code, grant_type="password"), None)).status_code == 403
    assert (await raw(standin, "POST", AUTHORIZE, grant("made-up"), None)).status_code == 401
    code = (await control(standin, "/_standin/installations", {"uuid": UUID}))["code"]
    first = await raw(standin, "POST", AUTHORIZE, grant(code), None)
    assert first.status_code == 201 and {"token", "refreshToken", "expiresAt"} <= set(first.json())
    again = await raw(standin, "POST", AUTHORIZE, grant(code), None)
    assert again.status_code == 401 and again.json() == {"detail": "Could not find grant for installation"}
    late = (await control(standin, "/_standin/installations", {"uuid": UUID}))["code"]
    state: StandinState = app.state.standin
    state.clock_offset_s = 601
    assert (await raw(standin, "POST", AUTHORIZE, grant(late), None)).json() == {"detail": "Grant has expired"}


async def test_a_refresh_revokes_the_old_token(standin: httpx.ASGITransport) -> None:
    code = (await control(standin, "/_standin/installations", {"uuid": UUID}))["code"]
    tokens = (await raw(standin, "POST", AUTHORIZE, grant(code), None)).json()
    assert (await client(standin, token=tokens["token"]).get_issue("4001")).id == "4001"
    body = {"grant_type": "refresh_token", "refresh_token": tokens["refreshToken"], "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET}
    fresh = (await raw(standin, "POST", AUTHORIZE, body, None)).json()
    with pytest.raises(SentryAuthError):
        await client(standin, token=tokens["token"]).get_issue("4001")
    assert (await client(standin, token=fresh["token"]).get_issue("4001")).id == "4001"
    assert (await raw(standin, "POST", AUTHORIZE, body, None)).status_code == 401  # refresh tokens are single use


async def test_an_endpoint_module_written_as_routes_of_s_plugs_in(app: Any) -> None:
    """`routes(s)` modules (s.state, s.call) get the same guard: auth, faults, the call log."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from standin.app import Standin

    state: StandinState = app.state.standin
    s = Standin(state)

    async def count(request: Request) -> Response:
        async def handle(_request: Request) -> Response:
            return JSONResponse({"issues": len(s.state.issues)})

        return await s.call(request, "count", handle)

    app.router.routes.append(Route("/api/0/organizations/{org}/count/", count))
    transport = httpx.ASGITransport(app=app)
    assert (await raw(transport, "GET", "/api/0/organizations/demo-org/count/")).json() == {"issues": len(state.issues)}
    assert (await raw(transport, "GET", "/api/0/organizations/demo-org/count/", token="x")).status_code == 401
    assert state.calls[-1]["endpoint"] == "count"


async def test_releases_held_as_full_objects_count_for_their_project(app: Any, standin: httpx.ASGITransport) -> None:
    state: StandinState = app.state.standin
    # front-end: a project the seed gives no release (the stories' releases are for other projects)
    state.issues["4001"]["project"] = {"id": "1", "slug": "front-end", "name": "front-end", "platform": "javascript"}
    sentry = client(standin)
    assert "No release data" in await refused(sentry.set_status("4001", "resolvedInNextRelease"))
    state.extra["releases"] = {"front-end@0.9.1": {"version": "front-end@0.9.1", "projects": [{"slug": "front-end"}]}}
    assert (await sentry.set_status("4001", "resolvedInNextRelease")).body["statusDetails"]["inNextRelease"]
