"""What tests import: Sentry's published payloads, signed deliveries, the test secrets, and a
burst-mode worker (arq's own tests build one the same way). Fixtures live in conftest.py."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from gateway.signature import sign
from shared.settings import Settings
from worker.main import build_worker

# A copy of ../shared/fixtures (Sentry's published payloads and API schema), kept in the repo so
# a clone anywhere can run the tests.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The webhook payloads ship inside the package (the demo posts them too): one copy.
WEBHOOK_FIXTURES = Path(__file__).resolve().parent.parent / "standin" / "fixtures" / "sentry-webhooks"
OPENAPI = FIXTURES / "sentry-api" / "openapi.json"

SECRET = "test-client-secret-0123456789abcdef"
# Not the 0.25 s default: on a busy machine a slow enqueue would spool the delivery and answer
# "spooled" instead of "queued"/"duplicate". The spool's own tests pass a budget of their own.
PATIENT_ENQUEUE = {"RESPONDER_ENQUEUE_TIMEOUT_S": "10"}
# How long a test's client waits for a gateway's answer: a safety net above that budget and a
# spool's fsyncs on a busy disk, never a latency check (bench/ measures latency).
ANSWER_TIMEOUT_S = 30.0
TOKEN = "sntrys_test_auth_token_do_not_leak_0123456789"


def load_webhook(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBHOOK_FIXTURES / f"{name}.json").read_text())
    return data


def webhook_names() -> list[str]:
    return sorted(p.stem for p in WEBHOOK_FIXTURES.glob("*.json"))


def wire_bytes(payload: object) -> bytes:
    """Serialize as Sentry does on the wire: compact separators, non-ASCII escaped."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def signed_headers(
    body: bytes, resource: str, secret: str = SECRET, request_id: str | None = None,
    timestamp: float | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id or uuid.uuid4().hex,
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(timestamp if timestamp is not None else time.time())),
        "Sentry-Hook-Signature": sign(body, secret),
    }


def delivery(name: str, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    """A fixture payload as Sentry would deliver it: wire bytes and signed headers. Error and
    event-alert deliveries get a fresh event_id each time, as every real one carries a new event
    (a byte-identical body is a replay to the gateway)."""
    payload = load_webhook(name)
    for key in ("error", "event"):
        if name.startswith(("error.", "event_alert.")) and key in payload["data"]:
            payload["data"][key]["event_id"] = uuid.uuid4().hex
    body = wire_bytes(payload)
    return body, signed_headers(body, name.split(".", 1)[0], **kwargs)


async def run_burst_worker(settings: Settings, sentry_transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Run a worker until the queue is empty (burst mode, no poll delay), then close it."""
    ctx: dict[str, Any] = {"settings": settings}
    if sentry_transport is not None:
        ctx["sentry_transport"] = sentry_transport
    worker = build_worker(settings, burst=True, poll_delay=0, handle_signals=False, ctx=ctx)
    try:
        await worker.async_run()
    finally:
        await worker.close()
