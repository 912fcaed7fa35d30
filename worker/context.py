"""Fetch what the analysis needs: the issue and its latest event, as few Sentry calls as possible.

The webhook payload already carries part of it (the issue of `issue.*`, the event of `error.created`
and `event_alert.triggered`): those parts are used as they are, so a job makes at most two reads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.jobs import Delivery
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
            platform=event.platform, level=(event.tag("level") or None),
        )
    return None


async def fetch_issue_and_event(
    delivery: Delivery, client: SentryClient | None
) -> tuple[Issue, Event | None]:
    """The current issue (always fetched when a client is configured) and the event to analyse."""
    assert delivery.issue_id is not None
    event = event_from_payload(delivery)
    if client is None:
        issue = issue_from_payload(delivery, event) or Issue(id=delivery.issue_id)
        return issue, event
    issue = await client.get_issue(delivery.issue_id)
    if event is None:
        try:
            event = await client.get_event(delivery.issue_id, "latest")
        except SentryNotFound:
            event = None  # an issue without a stored event still gets analysed
    return issue, event


def now() -> datetime:
    return datetime.now(UTC)
