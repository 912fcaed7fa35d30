"""Which deliveries the worker acts on, and which are only recorded: pure rules over the envelope."""

from __future__ import annotations

from shared.webhooks import Envelope

ACTIONABLE: dict[str, frozenset[str] | None] = {
    "issue": frozenset({"created", "unresolved"}),
    "error": frozenset({"created"}),
    "event_alert": frozenset({"triggered"}),
    "metric_alert": None,  # every action: critical, warning, resolved, open
    "installation": frozenset({"created", "deleted"}),
    "seer": frozenset({"root_cause_completed"}),  # its root cause joins the comment (issue 21)
}


def skip_reason(envelope: Envelope) -> str | None:
    """Why a delivery needs no work, or None when the worker should take it."""
    actions = ACTIONABLE.get(envelope.resource, frozenset())
    if actions is not None and envelope.action not in actions:
        return f"no handler for {envelope.resource}.{envelope.action}"
    actor = envelope.actor
    if actor is not None and actor.type == "application" and not actor.is_sentry:
        # An integration acted (most likely this responder writing back): acting again would loop.
        return f"caused by integration {actor.name or actor.id}"
    return None
