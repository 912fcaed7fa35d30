"""Regression: an issue that came back after being resolved, with the releases when known."""

from __future__ import annotations

from typing import Any

from worker.analysis.base import AnalysisContext, Finding


def _activity(activity: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = [a for a in activity if a.get("type") == kind]
    return found[0] if found else None  # Sentry lists activity newest first


def detect_regression(ctx: AnalysisContext) -> Finding | None:
    issue = ctx.issue
    regression = _activity(issue.activity, "set_regression")
    regressed = (
        issue.substatus == "regressed"
        or regression is not None
        or (ctx.resource == "issue" and ctx.action == "unresolved" and issue.substatus != "escalating")
    )
    if not regressed:
        return None
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
