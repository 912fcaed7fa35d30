"""Which work may wait when the shared Sentry budget runs low: pure policy, no I/O.

In a storm the budget (about 100 calls a minute per token) is the scarce thing. Alerts and new or
regressed issues are what a person on call needs first; one more `error.created` for an issue the
responder has already seen can wait a little. Nothing is dropped: deferrable work is put back on
the queue until the budget has room again.
"""

from __future__ import annotations

from enum import IntEnum

from shared.jobs import Delivery


class Priority(IntEnum):
    DEFERRABLE = 0
    NORMAL = 1
    URGENT = 2


URGENT_KINDS = frozenset({
    ("event_alert", "triggered"), ("metric_alert", "critical"), ("metric_alert", "warning"),
    ("issue", "created"), ("issue", "unresolved"),
})


def priority_of(delivery: Delivery, deliveries_for_issue: int) -> Priority:
    """`deliveries_for_issue` counts every actionable delivery seen for the issue, this one too."""
    if (delivery.resource, delivery.action) in URGENT_KINDS:
        return Priority.URGENT
    if delivery.resource == "error" and deliveries_for_issue > 1:
        return Priority.DEFERRABLE
    return Priority.NORMAL


def budget_wait_s(priority: Priority, remaining: int, limit: int, reserve: float) -> float | None:
    """How long deferrable work waits before looking again, or None when it may go now.

    The reserve is the share of the per-minute budget kept for urgent and normal work. The wait
    is the time the sliding window needs to free that many calls, so a deferred job comes back
    about when there is room, not in a busy loop.
    """
    if priority is not Priority.DEFERRABLE or limit <= 0:
        return None
    reserved = max(1, round(limit * reserve))
    if remaining > reserved:
        return None
    return max(1.0, 60.0 * (reserved - remaining + 1) / limit)
