"""The demo deliveries: Sentry's published webhook examples plus one per seeded issue, signed."""

from __future__ import annotations

import json
import time
import uuid
from importlib.resources import files
from typing import Any

import httpx

from gateway.signature import sign
from standin.app import seed


def fixture(name: str) -> dict[str, Any]:
    path = files("standin").joinpath(f"fixtures/sentry-webhooks/{name}.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def wire(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def signed(resource: str, payload: object, secret: str) -> tuple[bytes, dict[str, str]]:
    body = wire(payload)
    return body, {
        "Content-Type": "application/json",
        "Request-ID": uuid.uuid4().hex,
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(time.time())),
        "Sentry-Hook-Signature": sign(body, secret),
    }


def demo_deliveries() -> list[tuple[str, dict[str, Any]]]:
    """(resource, payload) pairs: the published examples, then an issue.created for each seeded
    issue (a regression as issue.unresolved), so every handler has something to say."""
    out: list[tuple[str, dict[str, Any]]] = [
        ("issue", fixture("issue.created")),
        ("error", fixture("error.created")),
        ("event_alert", fixture("event_alert.triggered")),
        ("metric_alert", fixture("metric_alert.resolved")),
        ("comment", fixture("comment.created")),
    ]
    template = fixture("issue.created")
    for issue in seed()["issues"]:
        if issue["id"] in ("1170820242", "1117540176"):
            continue
        action = "unresolved" if issue.get("substatus") == "regressed" else "created"
        out.append(("issue", {**template, "action": action, "data": {"issue": issue}}))
    return out


def post(url: str, resource: str, payload: object, secret: str) -> httpx.Response:
    body, headers = signed(resource, payload, secret)
    return httpx.post(url.rstrip("/") + "/webhooks/sentry", content=body, headers=headers, timeout=5.0)
