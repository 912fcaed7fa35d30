"""Actions through the queue: a service with `read+act` asks, the worker does it against the stand-in,
recorded like a webhook's job and idempotent by Idempotency-Key."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from shared.api_actions import ActionRequest
from shared.settings import Settings
from tests.helpers import run_burst_worker
from tests.sentry_api_helpers import READER, ApiRig, MakeRig
from tests.test_sentry_api import seed_job
from worker.rules import Actions


async def run_worker(rig: ApiRig) -> None:
    settings: Settings = rig.app.state.gateway.settings
    await run_burst_worker(settings, rig.transport)


async def job(rig: ApiRig, job_id: str) -> dict[str, Any]:
    response = await rig.http.get(f"/api/jobs/{job_id}")  # the dashboard's jobs API (loopback, no token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_actions_are_queued_done_and_recorded_like_a_webhooks_job(api_rig: MakeRig) -> None:
    rig = await api_rig()
    asked = {"comment": "Rolled back release 1.2; watching.", "assign": "team:1", "resolve": True}
    response = await rig.post("/api/sentry/issues/4001/actions", asked, key="rollback-4001")
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.json()["status"] == "queued"
    await run_worker(rig)
    record = await job(rig, job_id)
    assert record["state"] == "succeeded" and record["resource"] == "api_action"
    assert [a["kind"] for a in record["plan"]] == ["comment", "assign", "set_status"]
    assert [w["outcome"] for w in record["writeback"]] == ["done", "done", "done"]
    assert record["findings"][0]["data"]["requested_by"] == "triage-agent"
    issue = rig.sentry.issues["4001"]
    assert issue["status"] == "resolved" and issue["assignedTo"]["id"] == "1"
    notes = rig.sentry.notes["4001"]
    assert len(notes) == 1 and notes[0]["data"]["text"].startswith("Rolled back release 1.2")


async def test_the_same_idempotency_key_never_acts_twice(api_rig: MakeRig) -> None:
    rig = await api_rig()
    first = await rig.post("/api/sentry/issues/4002/actions", {"comment": "Known issue."}, key="k-1")
    again = await rig.post("/api/sentry/issues/4002/actions", {"comment": "Known issue."}, key="k-1")
    assert first.json()["job_id"] == again.json()["job_id"]
    assert (first.json()["status"], again.json()["status"]) == ("queued", "duplicate")
    other = await rig.post("/api/sentry/issues/4002/actions", {"comment": "Something else."}, key="k-1")
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    await run_worker(rig)
    after = await rig.post("/api/sentry/issues/4002/actions", {"comment": "Known issue."}, key="k-1")
    assert after.json() == {"job_id": first.json()["job_id"], "status": "duplicate"}
    assert len(rig.sentry.notes["4002"]) == 1


async def test_two_requests_for_one_issue_are_two_jobs(api_rig: MakeRig) -> None:
    rig = await api_rig()
    a = await rig.post("/api/sentry/issues/4003/actions", {"assign": "team:3"})
    b = await rig.post("/api/sentry/issues/4003/actions", {"ignore": {"minutes": 60}})
    assert a.json()["job_id"] != b.json()["job_id"]
    await run_worker(rig)
    assert (await job(rig, a.json()["job_id"]))["state"] == "succeeded"
    assert (await job(rig, b.json()["job_id"]))["state"] == "succeeded"
    assert rig.sentry.issues["4003"]["status"] == "ignored"


async def test_actions_are_refused_without_act_scope_or_with_a_bad_body(api_rig: MakeRig) -> None:
    rig = await api_rig()
    assert (await rig.post("/api/sentry/issues/4001/actions", {"resolve": True}, token=READER)).status_code == 403
    assert (await rig.post("/api/sentry/issues/4001/actions", {"resolve": True}, token=None)).status_code == 401
    for body in ({}, {"delete": True}, {"assign": "owner"}, {"assign": "team:orders"}, {"comment": ""},
                 {"ignore": {"minutes": 5, "count": 3}}):
        response = await rig.post("/api/sentry/issues/4001/actions", body)
        assert response.status_code == 422 and response.json()["error"] == "invalid_body", body
    bad_key = await rig.post("/api/sentry/issues/4001/actions", {"resolve": True}, key="has space")
    assert bad_key.status_code == 422
    assert (await rig.http.post("/api/sentry/issues/4001/actions", content=b"{not json",
                                headers={"Authorization": "Bearer actor-token-0123456789abcdef"})).status_code == 422
    assert not rig.sentry.updates


async def test_ignore_values_beyond_sentrys_bounds_are_422_naming_the_field(api_rig: MakeRig) -> None:
    rig = await api_rig()
    too_big = {"minutes": 10**30}, {"count": 2**31}, {"users": 2**31, "window_minutes": 60}, {"count": 5, "window_minutes": 10081}
    for ignore in too_big:
        response = await rig.post("/api/sentry/issues/4001/actions", {"ignore": ignore})
        assert response.status_code == 422 and response.json()["error"] == "invalid_body", ignore
        assert "less than or equal to" in json.dumps(response.json()["detail"]), response.text
    at_the_bounds = {"ignore": {"count": 2**31 - 1, "window_minutes": 7 * 24 * 60}}
    assert (await rig.post("/api/sentry/issues/4001/actions", at_the_bounds)).status_code == 202
    assert not rig.sentry.updates


def test_the_action_vocabulary_is_the_rules_files() -> None:
    # less the rules' opt-in to destructive actions: a service's explicit request is the opt-in
    rules_words = set(Actions.model_fields) - {"allow_destructive"}
    api_words = set(ActionRequest.model_fields)
    assert api_words == rules_words


async def test_an_issues_findings_stay_the_analysis_not_a_services_request(api_rig: MakeRig, redis: Redis) -> None:
    rig = await api_rig()
    analysis = await seed_job(redis, "4001", [{"handler": "stack", "summary": "OperationalError at db.py"}])
    await rig.post("/api/sentry/issues/4001/actions", {"comment": "Seen."})
    await run_worker(rig)
    detail = (await rig.get("/api/sentry/issues/4001")).json()
    assert detail["responder"]["job_id"] == analysis


async def test_a_services_actions_can_be_undone_and_are_in_the_issues_audit_trail(api_rig: MakeRig) -> None:
    rig = await api_rig()
    before = rig.sentry.issues["4003"]["status"]
    asked = await rig.post("/api/sentry/issues/4003/actions", {"assign": "team:3", "resolve": True})
    job_id = asked.json()["job_id"]
    await run_worker(rig)
    assert rig.sentry.issues["4003"]["status"] == "resolved"
    trail = (await rig.http.get("/api/issues/4003")).json()
    assert job_id in json.dumps(trail)
    undone = await rig.http.post(f"/api/jobs/{job_id}/undo", json={"by": "on-call"})
    assert undone.status_code == 200, undone.text
    assert rig.sentry.issues["4003"]["status"] == before
