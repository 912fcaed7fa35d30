"""Undo, the audit trail and shadow playbooks end to end: signed webhook at the gateway, the worker
writing back to the Sentry stand-in, then undo through the ops API (real Redis, real stand-in app)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette
from typer.testing import CliRunner

from cli.main import app
from devtools.processes import free_port
from shared.settings import Settings
from standin.app import create_standin
from tests.helpers import TOKEN, delivery, run_burst_worker
from tests.processes import wait_http

ISSUE_ID = "1170820242"
BASE = "http://standin.test/api/0/"
RULES = """
mode: all_matches
playbooks:
  - name: explain
    actions: {comment: true}
  - name: triage
    when: {resource: issue.created}
    actions: {resolve: true, assign: "team:3", allow_destructive: true}
  - name: try-ignore
    mode: shadow
    when: {resource: issue}
    actions: {ignore: {minutes: 60}, allow_destructive: true}
"""


@pytest.fixture
def standin() -> Starlette:
    return create_standin("test-org", TOKEN)


@pytest.fixture
def settings_for(make_settings: Callable[..., Settings], tmp_path: Path) -> Callable[..., Settings]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)

    def factory(**overrides: Any) -> Settings:
        values = {"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org", "SENTRY_BASE_URL": BASE,
                  "RESPONDER_RULES": str(rules), "RESPONDER_RETRY_BASE_S": "0.01", "RESPONDER_MAX_TRIES": "2"}
        return make_settings(**(values | overrides))

    return factory


async def run_worker(settings: Settings, standin: Starlette) -> None:
    await run_burst_worker(settings, httpx.ASGITransport(app=standin))


Setup = Callable[[], Awaitable[tuple[httpx.AsyncClient, str]]]


@pytest.fixture
def processed(client_for: Any, settings_for: Callable[..., Settings], standin: Starlette) -> Setup:
    """A gateway whose undo talks to the stand-in, and one issue.created delivery fully processed."""

    async def setup() -> tuple[httpx.AsyncClient, str]:
        settings = settings_for()
        client = await client_for(**{k: v for k, v in settings_env(settings).items()})
        client._transport.app.state.gateway.sentry_transport = httpx.ASGITransport(app=standin)  # type: ignore[attr-defined]
        body, headers = delivery("issue.created")
        assert (await client.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202
        await run_worker(settings, standin)
        return client, headers["Request-ID"]

    return setup


def settings_env(settings: Settings) -> dict[str, str]:
    return {"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org", "SENTRY_BASE_URL": BASE}


def issue_in(standin: Starlette) -> dict[str, Any]:
    issue: dict[str, Any] = standin.state.standin.issues[ISSUE_ID]
    return issue


def comment_in(standin: Starlette) -> str:
    notes = standin.state.standin.notes[ISSUE_ID]
    assert len(notes) == 1
    text: str = notes[0]["data"]["text"]
    return text


async def test_undo_restores_status_and_assignee_edits_the_comment_and_only_once(
    processed: Setup, standin: Starlette, redis: Redis,
) -> None:
    client, job_id = await processed()
    assert issue_in(standin)["status"] == "resolved"
    assert issue_in(standin)["assignedTo"]["id"] == "3"
    assert "Shadow playbook try-ignore would have: ignore" in comment_in(standin)

    answer = await client.post(f"/api/jobs/{job_id}/undo", json={"by": "alice"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["restored"] == {"status": "unresolved", "assignee": None}
    assert issue_in(standin)["status"] == "unresolved" and issue_in(standin)["assignedTo"] is None
    text = comment_in(standin)
    assert "Undone by dashboard user alice" in text and f"delivery `{job_id}`" in text.split("Undone by")[1]

    again = await client.post(f"/api/jobs/{job_id}/undo")
    assert again.status_code == 409 and again.json()["error"] == "already_undone"
    assert "dashboard user alice" in again.json()["detail"]


async def test_undo_after_a_human_change_answers_409_and_touches_nothing(
    processed: Setup, standin: Starlette, redis: Redis,
) -> None:
    client, job_id = await processed()
    sentry = httpx.AsyncClient(transport=httpx.ASGITransport(app=standin), base_url=BASE,
                               headers={"Authorization": f"Bearer {TOKEN}"})
    async with sentry:  # a person reassigns the issue in Sentry
        assert (await sentry.put(f"organizations/test-org/issues/{ISSUE_ID}/",
                                 json={"assignedTo": "user:7"})).status_code == 200
    updates_before = len(standin.state.standin.updates)
    answer = await client.post(f"/api/jobs/{job_id}/undo")
    assert answer.status_code == 409
    assert answer.json()["error"] == "changed_since"
    assert answer.json()["changed"] == {"assignee": {"ours": "team:3", "now": "user:7"}}
    assert len(standin.state.standin.updates) == updates_before
    assert issue_in(standin)["status"] == "resolved" and issue_in(standin)["assignedTo"]["id"] == "7"
    assert "Undone" not in comment_in(standin)


async def test_undo_of_a_job_that_wrote_nothing_is_404_and_bad_body_422(
    client_for: Any, redis: Redis,
) -> None:
    client = await client_for()
    assert (await client.post("/api/jobs/nope/undo")).status_code == 404
    assert (await client.post("/api/jobs/nope/undo", content=b"{not json")).status_code == 422
    assert (await client.post("/api/jobs/nope/undo", json={"by": "<script>"})).status_code == 422


async def test_audit_trail_lists_delivery_analysis_actions_and_undo_in_time_order(
    processed: Setup, standin: Starlette, redis: Redis,
) -> None:
    client, job_id = await processed()
    assert (await client.post(f"/api/jobs/{job_id}/undo")).status_code == 200
    trail = (await client.get(f"/api/issues/{ISSUE_ID}")).json()
    kinds = [e["kind"] for e in trail["entries"]]
    assert kinds[0] == "delivery" and kinds[-1] == "undo"
    assert {"analysis", "action", "shadow"} <= set(kinds)
    assert [e["at"] for e in trail["entries"]] == sorted(e["at"] for e in trail["entries"])
    actions = [e for e in trail["entries"] if e["kind"] == "action"]
    assert {a["data"]["kind"] for a in actions} == {"comment", "assign", "set_status"}
    assert all(a["data"]["outcome"] == "done" for a in actions)
    assert trail["entries"][-1]["actor"] == "dashboard"
    assert trail["web_url"] == f"https://sentry.io/organizations/demo-org/issues/{ISSUE_ID}/"  # its permalink
    job = (await client.get(f"/api/jobs/{job_id}")).json()
    assert job["web_url"] == trail["web_url"]
    assert job["shadow"] == [{"playbook": "try-ignore", "would": ["ignore"]}]
    assert (await client.get("/api/issues/bad%20id")).status_code == 422


async def test_playbook_counters_show_what_shadow_playbooks_would_have_done(
    processed: Setup, standin: Starlette, redis: Redis,
) -> None:
    client, _job_id = await processed()
    rows = {p["name"]: p for p in (await client.get("/api/playbooks")).json()["playbooks"]}
    assert rows["try-ignore"] == rows["try-ignore"] | {"mode": "shadow", "fired": 1, "would": {"ignore": 1}}
    assert rows["triage"]["mode"] == "live" and rows["triage"]["did"] == {"resolve": 1, "assign to team:3": 1}
    assert issue_in(standin)["status"] == "resolved"  # the live one acted; the shadow ignore did not


@pytest.fixture
def served_standin(standin: Starlette) -> Iterator[str]:
    """The same stand-in app, also on a loopback port (for the CLI, which makes real HTTP calls)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(standin, port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{port}/healthz")
    yield f"http://127.0.0.1:{port}/api/0/"
    server.should_exit = True
    thread.join(timeout=10)


async def test_cli_undo_restores_then_refuses_twice(
    settings_for: Callable[..., Settings], standin: Starlette, served_standin: str, redis: Redis,
    client_for: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(SENTRY_BASE_URL=served_standin)
    client = await client_for(**settings_env(settings))
    body, headers = delivery("issue.created")
    assert (await client.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202
    await run_worker(settings, standin)
    assert issue_in(standin)["status"] == "resolved"
    for name, value in {"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org",
                        "SENTRY_BASE_URL": served_standin, "REDIS_URL": settings.redis_url}.items():
        monkeypatch.setenv(name, value)
    job_id = headers["Request-ID"]
    result = await asyncio.to_thread(CliRunner().invoke, app, ["undo", job_id])
    assert result.exit_code == 0, result.output
    assert "undone by cli (" in result.output and "status back to unresolved" in result.output
    assert issue_in(standin)["status"] == "unresolved" and issue_in(standin)["assignedTo"] is None
    assert "Undone by cli (" in comment_in(standin)
    again = await asyncio.to_thread(CliRunner().invoke, app, ["undo", job_id])
    assert again.exit_code == 1 and "not undone" in again.output


async def test_undo_goes_through_the_ops_access_check(client_for: Any, redis: Redis) -> None:
    open_client = await client_for()
    foreign = await open_client.post("/api/jobs/x/undo", headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    guarded = await client_for(RESPONDER_DASHBOARD_TOKEN="dash-token-0123456789-0123456789abcdef")
    assert (await guarded.post("/api/jobs/x/undo")).status_code == 401
    assert (await guarded.get(f"/api/issues/{ISSUE_ID}")).status_code == 401
    ok = await guarded.post("/api/jobs/x/undo", headers={"Authorization": "Bearer dash-token-0123456789-0123456789abcdef"})
    assert ok.status_code == 404


class AssignFails(httpx.AsyncBaseTransport):
    """The stand-in, except that assignments answer 503 while `failing` is set."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.failing = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failing and request.method == "PUT" and b"assignedTo" in request.content:
            return httpx.Response(503, json={"detail": "injected"})
        return await self.inner.handle_async_request(request)


async def test_an_undo_that_fails_half_way_can_be_tried_again(
    processed: Setup, standin: Starlette, redis: Redis,
) -> None:
    client, job_id = await processed()
    transport = AssignFails(standin)
    client._transport.app.state.gateway.sentry_transport = transport  # type: ignore[attr-defined]
    first = await client.post(f"/api/jobs/{job_id}/undo")
    assert first.status_code == 502, first.text  # the status came back, the assignment did not
    assert issue_in(standin)["status"] == "unresolved" and issue_in(standin)["assignedTo"]["id"] == "3"
    transport.failing = False
    second = await client.post(f"/api/jobs/{job_id}/undo")
    assert second.status_code == 200, second.text
    assert second.json()["restored"] == {"assignee": None}
    assert issue_in(standin)["assignedTo"] is None


async def test_in_dry_run_live_playbooks_count_what_they_would_have_done(redis: Redis) -> None:
    from worker.actions import Plan, StatusAction
    from worker.trail import count_playbooks

    plan = Plan(actions=[StatusAction(status="resolved", rule="triage")], matched_rules=["triage"])
    await count_playbooks(redis, plan, executed=False)
    await count_playbooks(redis, plan, executed=True)
    stats = await redis.hgetall("responder:playbook:triage")
    assert stats[b"fired"] == b"2" and stats[b"would:resolve"] == b"1" and stats[b"did:resolve"] == b"1"
