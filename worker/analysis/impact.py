"""Spike / impact: how many events and users, and whether it is a burst or a slow trickle."""

from __future__ import annotations

from worker.analysis.base import AnalysisContext, Finding

DEFAULTS = {"events": 100, "users": 10, "burst_window_minutes": 60}


def assess_impact(ctx: AnalysisContext) -> Finding | None:
    limits = DEFAULTS | ctx.options.get("thresholds", {})
    issue = ctx.issue
    events, users = issue.count, issue.user_count
    age_min = None
    if issue.first_seen is not None:
        end = issue.last_seen or ctx.now
        age_min = max((end - issue.first_seen).total_seconds() / 60, 0.0)
    rate_per_h = events / max(age_min / 60, 1 / 60) if age_min is not None else None
    over = events >= limits["events"] or users >= limits["users"]
    burst = over and age_min is not None and age_min <= limits["burst_window_minutes"]
    shape = "burst" if burst else ("sustained" if over else "trickle")
    severity = "high" if burst else ("medium" if over else "low")
    summary = f"{events} events, {users} users ({shape})"
    return Finding(
        handler="impact",
        summary=summary,
        data={
            "events": events, "users": users, "severity": severity, "shape": shape,
            "spike": burst, "over_threshold": over, "age_minutes": age_min,
            "events_per_hour": round(rate_per_h, 1) if rate_per_h is not None else None,
            "thresholds": limits,
        },
    )
