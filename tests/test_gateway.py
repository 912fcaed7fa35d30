"""The webhook route end to end into a real Redis: every published payload, every rejection."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from arq.constants import job_key_prefix
from redis.asyncio import Redis

from gateway.signature import sign
from shared import keys
from shared.jobstore import JobStore
from shared.queue import deserialize
from tests.helpers import SECRET, delivery, signed_headers, webhook_names, wire_bytes


@pytest.fixture
async def client(client_for: Callable[..., Any], redis: Redis) -> httpx.AsyncClient:
    result: httpx.AsyncClient = await client_for()
    return result


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/webhooks/sentry", content=body, headers=headers)


@pytest.mark.parametrize("name", webhook_names())
async def test_every_published_payload_is_accepted_and_recorded(
    client: httpx.AsyncClient, redis: Redis, name: str
) -> None:
    body, headers = delivery(name)
    response = await post(client, body, headers)
    assert response.status_code == 202, response.text
    delivery_id = headers["Request-ID"]
    assert response.json()["id"] == delivery_id
    record = await JobStore(redis).get(delivery_id)
    assert record is not None
    assert record.resource == name.split(".", 1)[0]
    assert record.action == name.split(".", 1)[1]
    assert record.payload is not None and record.payload["body"] == json.loads(body)


@pytest.mark.parametrize("name", ["issue.created", "error.created", "event_alert.triggered"])
async def test_actionable_deliveries_become_arq_jobs(
    client: httpx.AsyncClient, redis: Redis, name: str
) -> None:
    body, headers = delivery(name)
    response = await post(client, body, headers)
    assert response.json()["status"] == "queued"
    delivery_id = headers["Request-ID"]
    job = deserialize(await redis.get(job_key_prefix + delivery_id))
    assert job["f"] == "process_delivery" and job["a"] == [delivery_id]
    assert await redis.zscore("responder:queue", delivery_id) is not None
    record = await JobStore(redis).get(delivery_id)
    assert record is not None and record.state == "queued"


async def test_comment_delivery_is_recorded_not_queued(client: httpx.AsyncClient, redis: Redis) -> None:
    body, headers = delivery("comment.created")
    response = await post(client, body, headers)
    assert response.status_code == 202
    assert response.json()["status"] == "recorded"
    assert await redis.zcard("responder:queue") == 0
    record = await JobStore(redis).get(headers["Request-ID"])
    assert record is not None and record.state == "skipped"
    assert record.reason == "no handler for comment.created"


async def test_duplicate_delivery_is_acknowledged_once_queued(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    body, headers = delivery("issue.created")
    first = await post(client, body, headers)
    second = await post(client, body, headers)
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == {"id": headers["Request-ID"], "status": "duplicate"}
    assert await redis.zcard("responder:queue") == 1


async def test_duplicate_after_the_job_finished_is_not_queued_again(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    body, headers = delivery("issue.created")
    await post(client, body, headers)
    # The worker finishing a job removes it from arq's queue and job key.
    await redis.delete(job_key_prefix + headers["Request-ID"])
    await redis.zrem("responder:queue", headers["Request-ID"])
    again = await post(client, body, headers)
    assert again.json()["status"] == "duplicate"
    assert await redis.zcard("responder:queue") == 0


async def test_rotated_secret_accepts_old_and_new(client_for: Callable[..., Any], redis: Redis) -> None:
    client = await client_for(SENTRY_CLIENT_SECRET="brand-new-secret," + SECRET)
    for secret in ("brand-new-secret", SECRET):
        body, headers = delivery("issue.created", secret=secret)
        assert (await post(client, body, headers)).status_code == 202


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda h: h.pop("Sentry-Hook-Signature"), "missing_signature"),
        (lambda h: h.update({"Sentry-Hook-Signature": "0" * 64}), "signature_mismatch"),
        (lambda h: h.update({"Sentry-Hook-Signature": "abc"}), "malformed_signature"),
        (lambda h: h.update({"Sentry-Hook-Signature": sign(b"x", SECRET)}), "signature_mismatch"),
        (lambda h: h.update({"Sentry-Hook-Timestamp": str(int(time.time()) - 301)}), "stale_timestamp"),
        (lambda h: h.update({"Sentry-Hook-Timestamp": str(int(time.time()) + 3600)}), "stale_timestamp"),
        (lambda h: h.pop("Sentry-Hook-Timestamp"), "missing_timestamp"),
    ],
)
async def test_signature_and_timestamp_rejections_are_401_with_the_reason(
    client: httpx.AsyncClient, redis: Redis, mutate: Callable[[dict[str, str]], object], error: str
) -> None:
    body, headers = delivery("issue.created")
    mutate(headers)
    response = await post(client, body, headers)
    assert response.status_code == 401
    assert response.json()["error"] == error
    assert SECRET not in response.text
    assert await redis.dbsize() == 0


async def test_wrong_secret_is_401(client: httpx.AsyncClient) -> None:
    body, headers = delivery("issue.created", secret="not-our-secret")
    assert (await post(client, body, headers)).status_code == 401


async def test_legacy_app_signature_header_is_accepted_as_sentry_sends_it(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    """Alert-rule actions: Content-Type, Request-ID and Sentry-App-Signature only (no resource)."""
    body = wire_bytes({"fields": [{"name": "team", "value": "1"}], "installationId": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"})
    headers = {"Content-Type": "application/json", "Request-ID": "ab" * 16, "Sentry-App-Signature": sign(body, SECRET)}
    response = await post(client, body, headers)
    assert response.status_code == 202 and response.json()["status"] == "recorded"
    record = await JobStore(redis).get("ab" * 16)
    assert record is not None and (record.resource, record.state) == ("ui_component", "skipped")


async def test_legacy_signature_for_a_webhook_resource_needs_the_setting(client_for: Callable[..., Any], redis: Redis) -> None:
    body, headers = delivery("issue.created")
    headers["Sentry-App-Signature"] = headers.pop("Sentry-Hook-Signature")
    strict = await client_for()
    refused = await post(strict, body, headers)
    assert refused.status_code == 401 and refused.json()["error"] == "legacy_signature_refused"
    lenient = await client_for(RESPONDER_LEGACY_SIGNATURE_ANY_RESOURCE="1")
    assert (await post(lenient, body, headers)).status_code == 202


async def test_signed_empty_body_is_accepted_and_recorded(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    headers = {"Content-Type": "application/json", "Sentry-App-Signature": sign(b"", SECRET)}
    response = await post(client, b"", headers)
    assert response.status_code == 202
    assert response.json()["status"] == "recorded"


async def test_body_over_the_limit_is_413(client_for: Callable[..., Any], redis: Redis) -> None:
    client = await client_for(RESPONDER_MAX_BODY_BYTES="1000")
    body = wire_bytes({"action": "created", "data": {"pad": "x" * 2000}})
    response = await post(client, body, signed_headers(body, "issue"))
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


async def test_streamed_body_over_the_limit_is_413(client_for: Callable[..., Any], redis: Redis) -> None:
    client = await client_for(RESPONDER_MAX_BODY_BYTES="1000")
    body = wire_bytes({"action": "created", "data": {"pad": "x" * 2000}})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    headers = signed_headers(body, "issue")
    response = await client.post("/webhooks/sentry", content=chunks(), headers=headers)
    assert response.status_code == 413


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"text"'])
async def test_signed_non_json_is_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await post(client, body, signed_headers(body, "issue"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


async def test_known_resource_with_a_bad_payload_is_422_with_field_errors(
    client: httpx.AsyncClient,
) -> None:
    body = wire_bytes({"action": "created", "data": {"issue": {"title": "no id"}}})
    response = await post(client, body, signed_headers(body, "issue"))
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert ["data", "issue", "id"] in [e["loc"] for e in errors]


async def test_unknown_resource_is_accepted_and_recorded(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    body = wire_bytes({"action": "triggered", "data": {"whatever": 1}})
    headers = signed_headers(body, "activity_alert")
    response = await post(client, body, headers)
    assert response.status_code == 202
    record = await JobStore(redis).get(headers["Request-ID"])
    assert record is not None
    assert (record.resource, record.state) == ("activity_alert", "skipped")


async def test_own_write_back_is_skipped_not_acted_on(client: httpx.AsyncClient, redis: Redis) -> None:
    payload = json.loads(delivery("issue.created")[0])
    payload["action"] = "unresolved"
    payload["actor"] = {"type": "application", "id": "responder-uuid", "name": "Sentry Responder"}
    body = wire_bytes(payload)
    headers = signed_headers(body, "issue")
    response = await post(client, body, headers)
    assert response.json()["status"] == "recorded"
    record = await JobStore(redis).get(headers["Request-ID"])
    assert record is not None and record.reason == "caused by integration Sentry Responder"


async def test_redis_down_spools_durably_and_answers_202(
    client_for: Callable[..., Any], make_settings: Callable[..., Any]
) -> None:
    from devtools.processes import free_port

    client = await client_for(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    for _ in range(3):
        body, headers = delivery("issue.created")
        response = await post(client, body, headers)
        assert response.status_code == 202
        assert response.json()["spooled"] is True
        assert response.headers["X-Responder-Spooled"] == "1"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "spooling", "redis": False, "spool_depth": 3}
    metrics = (await client.get("/metrics")).text
    assert "responder_spooled_total 3.0" in metrics


async def test_a_hung_redis_spools_within_the_enqueue_budget_then_drains(
    client_for: Callable[..., Any],
) -> None:
    """A Redis that accepts connections and never answers (stopped, swapping, a stuck failover) must
    cost a delivery no more than the enqueue budget: the default 0.25 s, then the spool."""
    import asyncio
    import os
    import signal

    from devtools.embedded_redis import EmbeddedRedis

    with EmbeddedRedis() as hung:
        assert hung.pid is not None
        client = await client_for(REDIS_URL=hung.url, RESPONDER_ENQUEUE_TIMEOUT_S="0.25")
        admin = Redis.from_url(hung.url)
        os.kill(hung.pid, signal.SIGSTOP)  # the kernel still accepts connections; nothing answers
        try:
            body, headers = delivery("issue.created")
            response = await post(client, body, headers)
            assert response.status_code == 202
            assert response.json()["spooled"] is True
        finally:
            os.kill(hung.pid, signal.SIGCONT)
        deadline = time.monotonic() + 60  # a safety net: the drain retries every quarter second
        record = None
        while time.monotonic() < deadline:
            record = await JobStore(admin).get(headers["Request-ID"])
            if record is not None and record.state == "queued":
                break
            await asyncio.sleep(0.1)
        assert record is not None and record.state == "queued"
        await admin.aclose()


async def test_redis_down_and_spool_full_is_503_never_500(client_for: Callable[..., Any]) -> None:
    from devtools.processes import free_port

    client = await client_for(
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", RESPONDER_SPOOL_MAX_BYTES="100"
    )
    body, headers = delivery("issue.created")
    response = await post(client, body, headers)
    assert response.status_code == 503
    assert response.json()["error"] == "queue_unavailable"
    assert (await client.get("/readyz")).json()["redis"] is False
    assert "responder_spool_refused_total 1.0" in (await client.get("/metrics")).text


async def test_health_ready_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    body, headers = delivery("issue.created")
    await post(client, body, headers)
    metrics = (await client.get("/metrics")).text
    assert 'responder_webhooks_received_total{outcome="queued",resource="issue"} 1.0' in metrics
    assert "responder_queue_depth 1.0" in metrics


async def test_request_id_is_bound_to_every_log_line(client: httpx.AsyncClient) -> None:
    from structlog.testing import capture_logs

    body, headers = delivery("issue.created")
    with capture_logs() as logs:
        await post(client, body, headers)
    accepted = [line for line in logs if line["event"] == "webhook_accepted"]
    assert accepted and accepted[0]["delivery_id"] == headers["Request-ID"]


async def test_storm_deliveries_for_one_issue_fold_into_one_job(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    ids = []
    for _ in range(5):
        body, headers = delivery("error.created")
        response = await post(client, body, headers)
        ids.append(headers["Request-ID"])
        assert response.status_code == 202
    assert await redis.zcard("responder:queue") == 1
    store = JobStore(redis)
    first = await store.get(ids[0])
    assert first is not None and first.state == "queued" and first.coalesced == 4
    for later in ids[1:]:
        record = await store.get(later)
        assert record is not None
        assert (record.state, record.coalesced_into) == ("coalesced", ids[0])
    assert int(await redis.get(keys.issue_deliveries("1170820242"))) == 5


async def test_a_storm_still_going_keeps_folding_into_the_finished_job(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    """The quiet window is quiet time: each folded delivery restarts it, so a storm that outlasts
    RESPONDER_QUIET_WINDOW_S (a slow machine, a long storm) still costs one analysis per issue."""
    body, headers = delivery("error.created")
    await post(client, body, headers)
    first = headers["Request-ID"]
    await redis.delete(keys.issue_active("1170820242", "error.created"))  # its job finished...
    await redis.set(keys.issue_quiet("1170820242", "error.created"), first, px=500)  # ...long ago
    for _ in range(3):
        body, headers = delivery("error.created")
        assert (await post(client, body, headers)).json() == {
            "id": headers["Request-ID"], "status": "coalesced", "coalesced_into": first,
        }
    assert await redis.pttl(keys.issue_quiet("1170820242", "error.created")) > 30_000  # 60 s again
    assert await redis.zcard("responder:queue") == 1


async def test_other_issues_and_kinds_get_their_own_jobs(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    for name in ("error.created", "issue.created", "event_alert.triggered"):
        body, headers = delivery(name)
        assert (await post(client, body, headers)).json()["status"] == "queued"
    assert await redis.zcard("responder:queue") == 3
