"""Regression: an issue that came back after being resolved, with the releases when known."""

from __future__ import annotations

from typing import Any

from worker.analysis.base import AnalysisContext, Finding


def _activity(activity: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = [a for a in activity if a.get("type") == kind]
    return found[0] if found else None  # Sentry lists activity newest first


def by_sentry(actor: dict[str, Any] | None) -> bool:
    """Sentry itself acted (a regression, an escalation): application/sentry, not a person or app."""
    return actor is not None and actor.get("type") == "application" and str(actor.get("id")) == "sentry"


def reopened_by_person(ctx: AnalysisContext) -> Finding:
    actor = ctx.actor or {}
    who = str(actor.get("name") or actor.get("id") or "someone")
    kind = "a person" if actor.get("type") == "user" else "an integration"
    return Finding(
        handler="reopened",
        summary=f"re-opened by {who} ({kind}, not Sentry): not a regression",
        data={"regressed": False, "by": who, "actor_type": actor.get("type")},
    )


def detect_regression(ctx: AnalysisContext) -> Finding | None:
    """Only Sentry says an issue regressed: its substatus `regressed`, a `set_regression` activity,
    or an `issue.unresolved` whose actor is Sentry. Someone re-opening an issue is recorded as
    that, and no regression rule matches it."""
    issue = ctx.issue
    regression = _activity(issue.activity, "set_regression")
    unresolved = ctx.resource == "issue" and ctx.action == "unresolved"
    regressed = (
        issue.substatus == "regressed"
        or regression is not None
        or (unresolved and by_sentry(ctx.actor) and issue.substatus != "escalating")
    )
    if not regressed:
        return reopened_by_person(ctx) if unresolved and ctx.actor and not by_sentry(ctx.actor) else None
    resolved = _activity(issue.activity, "set_resolved_in_release") or {}
    resolved_in = (
        issue.status_details.get("inRelease")
        or (resolved.get("data") or {}).get("version")
        or ((regression or {}).get("data") or {}).get("resolved_in_version")
    )
    came_back_in = ((regression or {}).get("data") or {}).get("version") or (
        issue.last_release.version if issue.last_release else None
    ) or (ctx.event.release if ctx.event else None)
    parts = ["regression"]
    if resolved_in:
        parts.append(f"resolved in {resolved_in}")
    if came_back_in:
        parts.append(f"back in {came_back_in}")
    return Finding(
        handler="regression",
        summary=", ".join(parts),
        data={"regressed": True, "resolved_in": resolved_in, "came_back_in": came_back_in},
    )
