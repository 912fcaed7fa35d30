"""The responder reports its own errors to Sentry: the scrubbing (pure), the own-project guard, and
real gateway and worker processes whose reports arrive at the stand-in's envelope endpoint, scrubbed."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.embedded_redis import EmbeddedRedis
from gateway.signature import sign
from shared.jobs import Delivery
from shared.selfreport import delivery_project_id, is_own_project, make_before_send, own_project_id
from shared.settings import Settings
from standin.app import DEMO_TOKEN
from tests.helpers import SECRET, load_webhook
from tests.processes import gateway, standin, worker
from tests.sentry_api_helpers import MakeRig
from tests.test_sentry_api_actions import job, run_worker

PLANTED = "sk_live_PLANTEDsecret0123456789abcdef"
PLANTED_PASSWORD = "hunter2-planted-password"


def test_before_send_masks_secrets_everywhere_and_drops_what_must_not_leave() -> None:
    before_send = make_before_send([DEMO_TOKEN])
    event: dict[str, Any] = {
        "message": f"failed with {PLANTED} and token {DEMO_TOKEN}",
        "exception": {"values": [{"type": "SentryError", "value": f"password={PLANTED_PASSWORD}",
                                  "stacktrace": {"frames": [{"function": "f", "vars": {"body": PLANTED}}]}}]},
        "breadcrumbs": {"values": [{"message": "job_started", "data": {"note": f"Bearer {DEMO_TOKEN}"}}]},
        "request": {"data": {"payload": PLANTED}, "cookies": {"responder_token": "x"},
                    "headers": {"Authorization": f"Bearer {DEMO_TOKEN}", "User-Agent": "curl"}},
        "extra": {"email": "someone@example.com"},
    }
    sent = before_send(event, None)
    assert sent is not None
    text = json.dumps(sent)
    for leaked in (PLANTED, PLANTED_PASSWORD, DEMO_TOKEN, "someone@example.com", '"vars"', "responder_token"):
        assert leaked not in text, leaked
    assert sent["request"]["headers"] == {"User-Agent": "curl"}
    assert sent["exception"]["values"][0]["type"] == "SentryError"


def test_the_dsns_project_is_recognised() -> None:
    assert own_project_id("https://abc123@o1.ingest.sentry.io/4505") == "4505"
    assert own_project_id("http://key@127.0.0.1:9000/42/") == "42"
    assert own_project_id(None) is None and own_project_id("https://key@host/") is None
    issue = Delivery(id="d", resource="issue", action="created", received_at=0.0, body=load_webhook("issue.created"))
    error = Delivery(id="e", resource="error", action="created", received_at=0.0, body=load_webhook("error.created"))
    assert delivery_project_id(issue) == "1" and delivery_project_id(error) == "1"


def test_own_project_is_skipped_only_when_asked(make_settings: Callable[..., Settings]) -> None:
    issue = Delivery(id="d", resource="issue", action="created", received_at=0.0, body=load_webhook("issue.created"))
    assert is_own_project(make_settings(RESPONDER_SENTRY_DSN="http://key@127.0.0.1:1/1"), issue)
    assert not is_own_project(make_settings(RESPONDER_SENTRY_DSN="http://key@127.0.0.1:1/2"), issue)
    assert not is_own_project(make_settings(RESPONDER_SENTRY_DSN="http://key@127.0.0.1:1/1",
                                            RESPONDER_SKIP_OWN_PROJECT="false"), issue)
    assert not is_own_project(make_settings(), issue)


async def test_a_delivery_about_the_responders_own_project_writes_nothing_back(api_rig: MakeRig) -> None:
    rig = await api_rig(RESPONDER_SENTRY_DSN="http://key@127.0.0.1:1/1")  # issue.created is about project 1
    body = json.dumps(load_webhook("issue.created"), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Request-ID": uuid.uuid4().hex, "Sentry-Hook-Resource": "issue",
               "Sentry-Hook-Timestamp": str(int(time.time())), "Sentry-Hook-Signature": sign(body, SECRET)}
    assert (await rig.http.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202
    await run_worker(rig)
    record = await job(rig, headers["Request-ID"])
    assert record["state"] == "skipped" and "own project" in record["reason"]
    assert not rig.sentry.notes and not rig.sentry.updates


def post(gateway_url: str, issue_id: str, mutate: Callable[[dict[str, Any]], None]) -> str:
    payload = copy.deepcopy(load_webhook("issue.created"))
    payload["data"]["issue"]["id"] = issue_id
    mutate(payload)
    body = json.dumps(payload, separators=(",", ":")).encode()
    request_id = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "Request-ID": request_id, "Sentry-Hook-Resource": "issue",
               "Sentry-Hook-Timestamp": str(int(time.time())), "Sentry-Hook-Signature": sign(body, SECRET)}
    response = httpx.post(gateway_url + "/webhooks/sentry", content=body, headers=headers, timeout=5)
    assert response.status_code == 202, response.text
    return request_id


def envelopes(standin_url: str, wanted: Callable[[dict[str, Any]], bool], timeout_s: float = 60.0) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = [e for e in httpx.get(standin_url + "/_standin/envelopes", timeout=5).json() if wanted(e)]
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("no such envelope arrived")
        time.sleep(0.2)


def has_item(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda envelope: any(item["type"] == kind for item in envelope["items"])


@pytest.fixture
def reporting(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    with EmbeddedRedis(data_dir=tmp_path / "redis") as server, standin() as standin_url:
        port = standin_url.rsplit(":", 1)[-1]
        env = {
            "SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": server.url, "SENTRY_BASE_URL": standin_url + "/api/0/",
            "SENTRY_AUTH_TOKEN": DEMO_TOKEN, "SENTRY_ORGANIZATION": "demo-org",
            "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"), "RESPONDER_WORKER_METRICS_PORT": "0",
            "RESPONDER_POLL_DELAY_S": "0.05", "RESPONDER_LOG_FORMAT": "json",
            "RESPONDER_SENTRY_DSN": f"http://0123456789abcdef0123456789abcdef@127.0.0.1:{port}/42",
            "RESPONDER_SENTRY_ENVIRONMENT": "test", "RESPONDER_SENTRY_TRACES_SAMPLE_RATE": "1.0",
        }
        with gateway(env) as (_proc, gateway_url):
            yield standin_url, gateway_url, env


def plant(payload: dict[str, Any]) -> None:
    payload["data"]["issue"]["title"] = f"charge failed: api_key={PLANTED}"
    payload["data"]["issue"]["culprit"] = f"password={PLANTED_PASSWORD}"


@pytest.mark.chaos
@pytest.mark.timeout(180)  # real processes start, run a job and report: longer than 60 s on a busy box
def test_a_failed_job_arrives_in_sentry_scrubbed(reporting: tuple[str, str, dict[str, str]]) -> None:
    standin_url, gateway_url, env = reporting
    proc = worker(env)
    try:
        post(gateway_url, "999999001", plant)  # an issue Sentry does not know: the job fails (404)
        [report] = envelopes(standin_url, has_item("event"))[:1]
    finally:
        proc.stop()
    event = next(item["payload"] for item in report["items"] if item["type"] == "event")
    assert report["project_id"] == "42"
    assert event["exception"]["values"][-1]["type"] == "SentryNotFound"
    assert event["release"].startswith("sentry-responder@") and event["environment"] == "test"
    assert event["tags"]["job.state"] == "failed" and event["tags"]["component"] == "worker"
    assert any(b.get("message") == "job_started" for b in event["breadcrumbs"]["values"])
    everything = json.dumps(httpx.get(standin_url + "/_standin/envelopes", timeout=5).json())
    for leaked in (PLANTED, PLANTED_PASSWORD, DEMO_TOKEN, SECRET):
        assert leaked not in everything, leaked


@pytest.mark.chaos
@pytest.mark.timeout(180)  # real processes start, run a job and report: longer than 60 s on a busy box
def test_the_gateway_and_the_worker_send_transactions_with_spans(reporting: tuple[str, str, dict[str, str]]) -> None:
    standin_url, gateway_url, env = reporting
    proc = worker(env)
    try:
        post(gateway_url, "4001", plant)
        gateway_tx = envelopes(standin_url, lambda e: any(
            i["type"] == "transaction" and i["payload"]["contexts"]["trace"].get("op") == "http.server"
            and i["payload"]["transaction"] == "/webhooks/sentry" for i in e["items"]))
        job_tx = envelopes(standin_url, lambda e: any(
            i["type"] == "transaction" and i["payload"]["contexts"]["trace"].get("op") == "queue.task.arq"
            for i in e["items"]))
    finally:
        proc.stop()
    job_run = next(i["payload"] for i in job_tx[0]["items"] if i["type"] == "transaction")
    assert job_run["transaction"] == "process_delivery"
    span_ops = {span.get("op") for span in job_run["spans"]}
    assert "http.client" in span_ops and any((op and op.startswith("db.redis")) or op == "db" for op in span_ops)
    webhook = next(i["payload"] for e in gateway_tx for i in e["items"] if i["type"] == "transaction"
                   and i["payload"]["transaction"] == "/webhooks/sentry")
    assert any(str(span.get("op")).startswith("db.redis") for span in webhook["spans"])  # the Redis intake
    everything = json.dumps(httpx.get(standin_url + "/_standin/envelopes", timeout=5).json())
    for leaked in (PLANTED, PLANTED_PASSWORD, DEMO_TOKEN, SECRET):
        assert leaked not in everything, leaked


UNHANDLED = """
import sentry_sdk
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient
from shared.selfreport import init_self_reporting
from shared.settings import load_settings

async def boom(request):
    raise RuntimeError("database url postgres://app:{password}@db/prod rejected api_key={secret}")

assert init_self_reporting(load_settings(), "gateway")
with TestClient(Starlette(routes=[Route("/boom", boom)]), raise_server_exceptions=False) as client:
    assert client.get("/boom").status_code == 500
sentry_sdk.flush(timeout=60)  # a safety net: on a busy box the post can take seconds
"""


@pytest.mark.chaos
@pytest.mark.timeout(180)  # real processes start, run a job and report: longer than 60 s on a busy box
def test_an_unhandled_gateway_exception_arrives_scrubbed(tmp_path: Path) -> None:
    with standin() as standin_url:
        port = standin_url.rsplit(":", 1)[-1]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "RESPONDER_"))},
               "SENTRY_CLIENT_SECRET": SECRET,
               "RESPONDER_SENTRY_DSN": f"http://0123456789abcdef0123456789abcdef@127.0.0.1:{port}/42"}
        script = UNHANDLED.replace("{password}", PLANTED_PASSWORD).replace("{secret}", PLANTED)
        done = subprocess.run([sys.executable, "-c", script], env=env, cwd=Path(__file__).parent.parent,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        [report] = envelopes(standin_url, has_item("event"))[:1]
        event = next(item["payload"] for item in report["items"] if item["type"] == "event")
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"
        assert event["tags"]["component"] == "gateway"
        assert PLANTED not in report["raw"] and PLANTED_PASSWORD not in report["raw"]
