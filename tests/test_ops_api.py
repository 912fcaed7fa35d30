"""The jobs API on a real Redis: filters, cursor pages, detail, stats, replay and who may see it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.ops.query import decode_cursor, encode_cursor
from gateway.ops.stats import window
from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.settings import Settings
from tests.helpers import delivery, load_webhook, signed_headers, wire_bytes

OpsClient = Callable[..., Any]


@pytest.fixture
async def ops_client(make_settings: Callable[..., Settings]) -> AsyncIterator[OpsClient]:
    """Gateway apps with their lifespan run; `peer` sets the client address the app sees."""
    opened: list[tuple[Any, httpx.AsyncClient]] = []

    async def factory(peer: str = "127.0.0.1", **overrides: str) -> httpx.AsyncClient:
        app = create_app(make_settings(**overrides))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")
        opened.append((lifespan, client))
        return client

    yield factory
    for lifespan, client in reversed(opened):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def post(client: httpx.AsyncClient, name: str, issue_id: str | None = None) -> str:
    payload = copy.deepcopy(load_webhook(name))
    if issue_id is not None:
        payload["data"]["issue"]["id"] = issue_id
    body = wire_bytes(payload)
    headers = signed_headers(body, name.split(".")[0])
    response = await client.post("/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 202, response.text
    return headers["Request-ID"]


async def test_filters_by_state_resource_issue_and_time(ops_client: OpsClient, redis: Redis) -> None:
    client = await ops_client()
    issue_ids = [await post(client, "issue.created", issue_id=str(500 + n)) for n in range(3)]
    comment_id = await post(client, "comment.created")
    everything = (await client.get("/api/jobs")).json()["jobs"]
    assert [j["id"] for j in everything] == [comment_id, *reversed(issue_ids)]  # newest first

    queued = (await client.get("/api/jobs", params={"state": "queued"})).json()["jobs"]
    assert {j["id"] for j in queued} == set(issue_ids)
    assert all(j["state"] == "queued" and isinstance(j["received_at"], float) for j in queued)
    comments = (await client.get("/api/jobs", params={"resource": "comment"})).json()["jobs"]
    assert [j["id"] for j in comments] == [comment_id]
    exact = (await client.get("/api/jobs", params={"resource": "issue.created", "issue_id": "501"})).json()
    assert [j["id"] for j in exact["jobs"]] == [issue_ids[1]]

    middle = next(j for j in everything if j["id"] == issue_ids[1])["received_at"]
    since = (await client.get("/api/jobs", params={"since": middle})).json()["jobs"]
    assert {j["id"] for j in since} == {issue_ids[1], issue_ids[2], comment_id}
    until = (await client.get("/api/jobs", params={"until": middle})).json()["jobs"]
    assert {j["id"] for j in until} == {issue_ids[0], issue_ids[1]}
    assert all("payload" not in j for j in everything)  # lists stay small


async def test_cursor_pages_have_no_gaps_and_no_repeats(ops_client: OpsClient, redis: Redis) -> None:
    client = await ops_client()
    posted = [await post(client, "issue.created", issue_id=str(900 + n)) for n in range(23)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/jobs", params=params)).json()
        seen += [j["id"] for j in page["jobs"]]
        pages += 1
        if len(page["jobs"]) < 5 or not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
        await post(client, "comment.created")  # new deliveries meanwhile do not shift the pages
    assert [i for i in seen if i in posted] == list(reversed(posted))
    assert len(seen) == len(set(seen))
    assert pages == 5


async def test_ties_on_the_same_instant_page_by_id(redis: Redis) -> None:
    store = JobStore(redis)
    await redis.zadd("responder:jobs", {f"id-{n}": 1000.0 for n in range(7)})
    first = await store.scan(None, None, 3)
    rest = await store.scan(None, first[-1], 10)
    assert [i for _, i in first + rest] == [f"id-{n}" for n in reversed(range(7))]


async def test_detail_has_findings_plan_and_payload_and_404s(ops_client: OpsClient, redis: Redis) -> None:
    client = await ops_client()
    delivery_id = await post(client, "issue.created")
    await JobStore(redis).transition(
        delivery_id, JobState.SUCCEEDED, started_at=1.0, finished_at=1.5, attempts=1,
        findings=[{"handler": "stack", "summary": "ReferenceError at runner"}],
        plan=[{"kind": "comment", "rule": "explain"}], writeback=[{"kind": "comment", "ok": True}],
    )
    job = (await client.get(f"/api/jobs/{delivery_id}")).json()
    assert job["state"] == "succeeded" and job["duration_s"] == 0.5
    assert job["findings"][0]["handler"] == "stack" and job["plan"][0]["kind"] == "comment"
    assert job["payload"]["body"]["data"]["issue"]["id"]
    assert (await client.get("/api/jobs/nope")).status_code == 404
    unknown = await client.post("/api/jobs/nope/replay")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


async def test_replay_of_a_dead_job_queues_it_and_a_succeeded_one_is_409(
    ops_client: OpsClient, redis: Redis,
) -> None:
    client = await ops_client()
    store = JobStore(redis)
    dead_id = await post(client, "issue.created", issue_id="71")
    done_id = await post(client, "issue.created", issue_id="72")
    await store.transition(dead_id, JobState.DEAD, error="SentryServerError: 503", attempts=5)
    await store.add_dead(dead_id)
    await store.transition(done_id, JobState.SUCCEEDED)
    assert [j["id"] for j in (await client.get("/api/dead")).json()["jobs"]] == [dead_id]

    answer = await client.post(f"/api/jobs/{dead_id}/replay")
    assert answer.status_code == 202
    record = await store.get(dead_id)
    assert record is not None and record.state is JobState.QUEUED and record.replays == 1
    assert await store.dead_ids() == []
    assert await redis.zscore("responder:queue", dead_id) is not None
    assert (await client.post(f"/api/jobs/{done_id}/replay")).status_code == 409

    await store.transition(dead_id, JobState.DEAD)
    await store.add_dead(dead_id)
    assert (await client.post("/api/dead/replay")).json() == {"replayed": 1}


async def test_stats_count_states_and_show_the_last_hour(ops_client: OpsClient, redis: Redis) -> None:
    client = await ops_client()
    for n in range(3):
        await post(client, "issue.created", issue_id=str(300 + n))
    await post(client, "comment.created")
    await redis.hset("responder:workers", "host:1", "0")
    stats = (await client.get("/api/stats")).json()
    assert stats["counts"]["queued"] == 3 and stats["counts"]["skipped"] == 1
    assert stats["queue_depth"] == 3 and stats["dead_letters"] == 0 and stats["spool_depth"] == 0
    assert stats["last_hour"]["received"] == 4
    assert stats["last_hour"]["by_resource"] == {"issue": 3, "comment": 1}
    assert len(stats["last_hour"]["buckets"]) == 60
    assert stats["workers"][0]["name"] == "host:1" and stats["workers"][0]["alive"] is False


def test_latency_window_buckets_by_minute() -> None:
    now = 10_000.0
    rows = [
        {"received_at": str(now - 30), "finished_at": str(now - 28), "state": "succeeded", "resource": "issue"},
        {"received_at": str(now - 30), "finished_at": str(now - 20), "state": "dead", "resource": "error"},
        {"received_at": str(now - 30), "state": "coalesced", "resource": "error"},
        {"received_at": str(now - 7200), "state": "succeeded", "resource": "issue"},  # out of the hour
    ]
    result = window(rows, now)
    assert result.received == 3 and result.finished == 2
    assert result.by_resource == {"issue": 1, "error": 2}
    assert result.p50_s == 10.0 and result.p95_s == 10.0
    assert sum(b.received for b in result.buckets) == 3


@pytest.mark.parametrize(
    "params",
    [{"state": "bogus"}, {"limit": "0"}, {"limit": "10000"}, {"limit": "x"}, {"since": "-1"},
     {"cursor": "not-a-cursor!"}, {"cursor": encode_cursor((1.0, "x"))[:-3] + "$$$"}, {"unknown": "1"}],
)
async def test_bad_query_is_422_never_5xx(ops_client: OpsClient, redis: Redis, params: dict[str, str]) -> None:
    client = await ops_client()
    response = await client.get("/api/jobs", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_query" and response.json()["detail"]


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor((1234.5, "abc"))) == (1234.5, "abc")
    with pytest.raises(ValueError):
        decode_cursor("e30")  # "{}" is JSON but not a cursor


async def test_without_a_token_only_loopback_is_served(ops_client: OpsClient, redis: Redis) -> None:
    local = await ops_client()
    assert (await local.get("/api/stats")).status_code == 200
    assert (await local.get("/")).status_code == 200
    remote = await ops_client(peer="10.0.0.5")
    for path in ("/", "/api/jobs", "/api/stats"):
        assert (await remote.get(path)).status_code == 403
    assert (await remote.post("/api/dead/replay")).status_code == 403
    body, headers = delivery("issue.created")  # the webhook stays open to Sentry
    assert (await remote.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202
    assert (await remote.get("/healthz")).status_code == 200


async def test_with_a_token_bearer_or_cookie_and_never_echoed(ops_client: OpsClient, redis: Redis) -> None:
    token = "dash-token-0123456789abcdef-0123456789"
    client = await ops_client(peer="10.0.0.5", RESPONDER_DASHBOARD_TOKEN=token)
    refused = await client.get("/api/jobs")
    assert refused.status_code == 401 and token not in refused.text
    wrong = await client.get("/api/jobs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "nope" not in wrong.text
    assert (await client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert (await client.post("/login", data={"token": "wrong"})).status_code == 401
    # The token in a URL signs nobody in (it would sit in access logs): the page is the form.
    in_url = await client.get("/", params={"token": token})
    assert in_url.status_code == 401 and 'action="/login"' in in_url.text and "set-cookie" not in in_url.headers

    swap = await client.post("/login", data={"token": token})
    assert swap.status_code == 303 and swap.headers["location"] == "/"
    assert "httponly" in swap.headers["set-cookie"].lower()
    assert token not in swap.headers["set-cookie"]  # the cookie is derived from the token
    page = await client.get("/")  # the cookie now opens the page and the API
    assert page.status_code == 200 and token not in page.text
    assert (await client.get("/api/stats")).status_code == 200
    # The token protects even requests from this machine.
    local = await ops_client(RESPONDER_DASHBOARD_TOKEN=token)
    assert (await local.get("/api/jobs")).status_code == 401


async def test_static_assets_are_served(ops_client: OpsClient, redis: Redis) -> None:
    client = await ops_client()
    assert "textContent" in (await client.get("/static/dashboard.js")).text
    assert (await client.get("/static/dashboard.css")).status_code == 200


async def test_without_a_token_rebinding_and_cross_site_posts_are_refused(ops_client: OpsClient, redis: Redis) -> None:
    local = await ops_client()
    # A page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) still sends its own Host.
    assert (await local.get("/api/jobs", headers={"Host": "evil.example"})).status_code == 403
    # A page elsewhere posting through the operator's browser sends its Origin.
    forged = await local.post("/api/dead/replay", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert (await local.post("/api/dead/replay", headers={"Origin": "http://127.0.0.1:8000"})).status_code == 202


async def test_the_page_sends_security_headers(ops_client: OpsClient, redis: Redis) -> None:
    page = await (await ops_client()).get("/")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"


async def test_logout_clears_the_cookie_and_a_copy_lives_until_it_expires(ops_client: OpsClient) -> None:
    """What `/logout` promises (SECURITY.md, "Sign-in"): the browser's cookie is cleared; sessions are
    stateless, so a copy taken before sign-out works until RESPONDER_DASHBOARD_SESSION_S ends it."""
    token = "logout-test-token-0123456789abcdef-XYZ"
    client = await ops_client(RESPONDER_DASHBOARD_TOKEN=token)
    origin = {"Origin": "http://127.0.0.1:8000"}
    assert (await client.post("/login", data={"token": token}, headers=origin)).status_code == 303
    copied = client.cookies["responder_session"]
    assert (await client.get("/api/stats")).status_code == 200
    assert (await client.post("/logout", headers={"Origin": "https://evil.example"})).status_code == 403
    assert (await client.get("/api/stats")).status_code == 200  # a cross-site post signs nobody out

    out = await client.post("/logout", headers=origin)
    assert out.status_code == 303 and out.headers["location"] == "/"
    cleared = out.headers["set-cookie"].lower()
    assert cleared.startswith("responder_session=") and "max-age=0" in cleared and "path=/" in cleared
    assert "responder_session" not in client.cookies
    assert (await client.get("/api/stats")).status_code == 401
    assert (await client.get("/")).status_code == 401  # the sign-in form again
    client.cookies.set("responder_session", copied)
    assert (await client.get("/api/stats")).status_code == 200
