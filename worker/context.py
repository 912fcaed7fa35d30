"""Fetch what the analysis needs: the issue and its latest event, as few Sentry calls as possible.

The webhook payload already carries part of it (the issue of `issue.*`, the event of `error.created`
and `event_alert.triggered`), which is used as it is; what is fetched is cached in Redis for a short
time, so retried work does not fetch it again. A job thus makes at most two reads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.jobs import Delivery
from shared.sentry.cache import FetchCache as FetchCache  # moved to shared/ (the gateway reads through it too)
from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryNotFound
from shared.sentry.models import Event, Issue


def event_from_payload(delivery: Delivery) -> Event | None:
    data: dict[str, Any] = delivery.body.get("data") or {}
    raw = data.get("error") if delivery.resource == "error" else data.get("event")
    if delivery.resource in ("error", "event_alert") and isinstance(raw, dict):
        return Event.model_validate(raw)
    return None


def issue_from_payload(delivery: Delivery, event: Event | None) -> Issue | None:
    data: dict[str, Any] = delivery.body.get("data") or {}
    if delivery.resource == "issue" and isinstance(data.get("issue"), dict):
        return Issue.model_validate(data["issue"])
    if event is not None and delivery.issue_id:
        return Issue(
            id=delivery.issue_id, title=event.title, culprit=event.culprit,
            platform=event.platform, level=event.tag("level"),
        )
    return None


async def fetch_issue_and_event(
    delivery: Delivery, client: SentryClient | None, cache: FetchCache | None = None,
    calls: list[str] | None = None,
) -> tuple[Issue, Event | None]:
    """The current issue (fetched when a client is configured, with its stats and Sentry's
    suspect-commit owners) and the event to analyse; `calls` collects the calls made."""
    calls = [] if calls is None else calls
    assert delivery.issue_id is not None
    issue_id = delivery.issue_id
    event = event_from_payload(delivery)
    if client is None:
        return issue_from_payload(delivery, event) or Issue(id=issue_id), event
    issue = await cache.get("issue", issue_id, Issue) if cache else None
    if issue is None:
        issue = await client.get_issue(issue_id)
        calls.append("issue")
        if cache:
            await cache.put("issue", issue_id, issue)
    if event is None:
        event = await cache.get("event", issue_id, Event) if cache else None
    if event is None:
        try:
            calls.append("event")
            event = await client.get_event(issue_id, "latest")
        except SentryNotFound:
            return issue, None  # an issue without a stored event is still analysed
        if cache:
            await cache.put("event", issue_id, event)
    return issue, event


def actor_of(delivery: Delivery) -> dict[str, Any] | None:
    """Who caused the delivery: a person re-opening an issue is not Sentry marking a regression."""
    actor = delivery.body.get("actor")
    return dict(actor) if isinstance(actor, dict) else None


def now() -> datetime:
    return datetime.now(UTC)
