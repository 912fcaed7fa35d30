"""Attacks on the webhook route of a real gateway process (issue 18, findings 3, 6 and 12):
replayed deliveries, unbounded metric labels, hostile ids in signed payloads."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis

from devtools.embedded_redis import EmbeddedRedis
from gateway.signature import sign
from shared import keys
from shared.webhooks import SENTRY_RESOURCES
from tests.helpers import ANSWER_TIMEOUT_S, PATIENT_ENQUEUE, SECRET, load_webhook, signed_headers, wire_bytes
from tests.processes import gateway


@pytest.fixture
def running(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[tuple[str, sync_redis.Redis]]:
    client = sync_redis.Redis.from_url(redis_server.url)
    client.flushdb()
    env = {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": redis_server.url,
           "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"), **PATIENT_ENQUEUE}
    with gateway(env) as (_proc, url):
        yield url, client
    client.close()


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url + "/webhooks/sentry", content=body, headers=headers, timeout=ANSWER_TIMEOUT_S)


def big_issue(size_bytes: int = 200_000) -> bytes:
    payload = copy.deepcopy(load_webhook("issue.created"))
    payload["data"]["issue"]["metadata"]["padding"] = "x" * size_bytes
    return wire_bytes(payload)


def test_a_captured_delivery_replayed_is_never_queued_again(running: tuple[str, sync_redis.Redis]) -> None:
    """Finding 3: same body, new Request-ID, fresh timestamp, or moved to the legacy header."""
    url, client = running
    body = big_issue()
    first = signed_headers(body, "issue")
    assert post(url, body, first).json()["status"] == "queued"
    memory_before = client.info("memory")["used_memory"]
    for n in range(50):
        replay = dict(first, **{"Request-ID": uuid.uuid4().hex, "Sentry-Hook-Timestamp": str(int(time.time()))})
        if n % 2:  # the legacy header, no timestamp: Sentry never signs a webhook resource that way
            replay["Sentry-App-Signature"] = replay.pop("Sentry-Hook-Signature")
            del replay["Sentry-Hook-Timestamp"]
            refused = post(url, body, replay)
            assert refused.status_code == 401 and refused.json()["error"] == "legacy_signature_refused"
        else:
            assert post(url, body, replay).json()["status"] == "duplicate"
    # Without the resource header a legacy-signed body passes as a UI-component request; the
    # body digest still knows it.
    bare = {"Content-Type": "application/json", "Request-ID": uuid.uuid4().hex, "Sentry-App-Signature": sign(body, SECRET)}
    assert post(url, body, bare).json()["status"] == "duplicate"
    assert client.zcard("responder:queue") == 1
    assert client.zcard(keys.JOBS_BY_TIME) == 1
    grown = client.info("memory")["used_memory"] - memory_before
    assert grown < 2_000_000, f"Redis grew by {grown} bytes for replays"  # 51 copies would be 10 MB


def test_unknown_resource_is_recorded_bounded_without_an_oversized_payload(
    running: tuple[str, sync_redis.Redis]
) -> None:
    url, client = running
    payload: dict[str, Any] = {"action": "x" * 500, "data": {"blob": "y" * 300_000}}
    body = wire_bytes(payload)
    headers = signed_headers(body, "z" * 60 + "<script>")
    response = post(url, body, headers)
    assert response.status_code == 202
    record = {k.decode(): v.decode() for k, v in client.hgetall(keys.job(headers["Request-ID"])).items()}
    assert record["resource"] == "other" and len(record["action"]) <= 64
    assert "payload of" in record["reason"] and len(record["reason"]) < 200
    assert len(record.get("payload", "")) < 1000


HOSTILE_IDS = ["1/../../organizations/acme", "1%2F..", "12 OR 1=1", "-1", "1e9", "", " 12", "\uff11\uff12", "responder:x"]  # the last but one: fullwidth digits


@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_hostile_ids_in_signed_payloads_are_422(running: tuple[str, sync_redis.Redis], bad: str) -> None:
    """Finding 12: a signed payload's ids go into Sentry API paths and Redis keys."""
    url, client = running
    cases: list[tuple[str, list[str]]] = [
        ("issue.created", ["data", "issue", "id"]),
        ("issue.created", ["data", "issue", "project", "id"]),
        ("error.created", ["data", "error", "issue_id"]),
        ("error.created", ["data", "error", "event_id"]),
        ("error.created", ["data", "error", "project"]),
        ("event_alert.triggered", ["data", "event", "event_id"]),
        ("comment.created", ["data", "issue_id"]),
        ("seer.root_cause_started", ["data", "group_id"]),
        ("installation.created", ["data", "installation", "uuid"]),
        ("issue.created", ["installation", "uuid"]),
    ]
    for name, path in cases:
        payload = copy.deepcopy(load_webhook(name))
        target = payload
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = bad
        body = wire_bytes(payload)
        response = post(url, body, signed_headers(body, name.split(".")[0]))
        assert response.status_code == 422, (name, path, response.text)
        assert path in [e["loc"] for e in response.json()["detail"]] or path[-1] == "id"
    assert client.zcard(keys.JOBS_BY_TIME) == 0
    assert not client.keys(keys.ISSUE + "*")


def test_real_id_forms_pass(running: tuple[str, sync_redis.Redis]) -> None:
    """Integers where Sentry sends them, dashed and plain UUIDs."""
    url, _client = running
    payload = copy.deepcopy(load_webhook("error.created"))
    payload["data"]["error"]["event_id"] = str(uuid.uuid4())  # the dashed form
    payload["data"]["error"]["issue_id"] = 1170820242  # a number
    payload["installation"]["uuid"] = uuid.uuid4().hex
    body = wire_bytes(payload)
    assert post(url, body, signed_headers(body, "error")).status_code == 202


def test_metric_labels_come_only_from_known_resources(running: tuple[str, sync_redis.Redis]) -> None:
    """Finding 6: the unsigned Sentry-Hook-Resource header once became a label per request."""
    url, _client = running
    with httpx.Client(base_url=url) as http:
        for n in range(300):
            headers = {"Sentry-Hook-Resource": f"made-up-{n}", "Sentry-Hook-Signature": "0" * 64,
                       "Sentry-Hook-Timestamp": str(int(time.time()))}
            assert http.post("/webhooks/sentry", content=b"{}", headers=headers).status_code == 401
        metrics = http.get("/metrics").text
    series = [line for line in metrics.splitlines() if line.startswith("responder_webhooks_received_total{")]
    labels = {line.split('resource="')[1].split('"')[0] for line in series}
    assert labels <= SENTRY_RESOURCES | {"ui_component", "other"}
    assert "made-up" not in metrics and len(series) <= 5
