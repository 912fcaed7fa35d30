"""The demo deliveries: Sentry's published webhook examples plus one per seeded issue, signed."""

from __future__ import annotations

import json
import time
import uuid
from importlib.resources import files
from typing import Any

import httpx

from gateway.signature import sign
from standin import scenarios
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
        if issue["id"] in scenarios.DELIVERIES:  # the stories: Sentry, or a person re-opening
            action, actor = scenarios.DELIVERIES[issue["id"]]
            out.append(("issue", {**template, "action": action, "actor": actor, "data": {"issue": issue}}))
        elif not issue["id"].startswith("40"):  # the stories' neighbours are context, not news
            out.append(("issue", {**template, "data": {"issue": issue}}))
    # Sentry's root cause for the database story: edited into that issue's comment.
    seer = fixture("seer.root_cause_completed")
    out.append(("seer", {**seer, "data": {**seer["data"], "group_id": 4001, "root_cause": DEMO_ROOT_CAUSE}}))
    return out


DEMO_ROOT_CAUSE = {
    "description": "backend@2.4.1 drops the prefetch in fetch_open_orders; the single query scans orders "
                   "without an index on (customer_id, state) and hits the 5 s statement timeout.",
    "steps": [{"title": "fetch_open_orders filters orders by customer_id and state in one query",
               "relevant_code_file": {"file_path": "app/orders/repository.py", "repo_name": "example/monorepo"},
               "is_most_important_event": True}],
}


def post(url: str, resource: str, payload: object, secret: str) -> httpx.Response:
    body, headers = signed(resource, payload, secret)
    return httpx.post(url.rstrip("/") + "/webhooks/sentry", content=body, headers=headers, timeout=5.0)
