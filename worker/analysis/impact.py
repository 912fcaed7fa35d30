"""How bad, and since when: the last hour of the issue's own `stats` against its usual rate.

Sentry's issue JSON carries `stats.24h` (hourly buckets, the last one the current hour) and
`stats.30d` (daily buckets). The baseline is the median of the buckets before the current one
(hours; days divided by 24 for an issue older than a day), so one earlier burst does not hide a
spike. Sentry's own verdicts (`substatus`: new, escalating, regressed, ongoing; `priority`) are
quoted as Sentry's, never re-derived. Without stats (a webhook-only issue) only the counts are
reported: a lifetime count divided by the issue's age says nothing about now and is never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

from worker.analysis.base import AnalysisContext, Finding

DEFAULTS = {"events": 100, "users": 10, "burst_window_minutes": 60, "spike_multiplier": 5}
SOURCE_STATS = "issue stats.24h (hourly) and stats.30d (daily); substatus, priority"


def _series(stats: dict[str, list[tuple[float, float]]], key: str) -> list[tuple[datetime, int]]:
    return [(datetime.fromtimestamp(ts, UTC), int(n)) for ts, n in stats.get(key, [])]


def baseline_per_hour(ctx: AnalysisContext) -> tuple[float, str] | None:
    """The usual events per hour and the window it was taken over; None for too young an issue."""
    issue = ctx.issue
    hours = _series(issue.stats, "24h")[:-1]
    days = _series(issue.stats, "30d")[:-1]
    first = issue.first_seen
    if first is not None:  # only whole buckets the issue lived through
        hours = [(t, n) for t, n in hours if t >= first]
        days = [(t, n) for t, n in days if t >= first]
    if len(days) >= 3:
        return median(n for _, n in days) / 24, f"median day of the previous {len(days)} days"
    if len(hours) >= 3:
        return float(median(n for _, n in hours)), f"median of the previous {len(hours)} hours"
    return None


def spike_start(hours: list[tuple[datetime, int]], threshold: float) -> datetime | None:
    """The first hour of the run of hours above `threshold` that reaches the current one."""
    start = None
    for at, n in reversed(hours):
        if n <= threshold:
            break
        start = at
    return start


def regressed_at(activity: list[dict[str, Any]]) -> datetime | None:
    """When Sentry marked the regression (its `set_regression` activity, newest first)."""
    mark = next((a for a in activity if a.get("type") == "set_regression"), None)
    when = mark.get("dateCreated") if mark else None
    return datetime.fromisoformat(str(when).replace("Z", "+00:00")) if when else None


def sentry_status(ctx: AnalysisContext) -> dict[str, Any]:
    """What Sentry says, and who re-opened the issue when a person did (not a regression)."""
    issue, actor = ctx.issue, ctx.actor or {}
    reopened_by = None
    if ctx.resource == "issue" and ctx.action == "unresolved" and actor.get("type") == "user":
        reopened_by = str(actor.get("name") or actor.get("id") or "a person")
    return {"substatus": issue.substatus, "priority": issue.priority, "reopened_by": reopened_by}


@dataclass(frozen=True)
class Trend:
    last_hour: int
    last_hour_from: datetime
    events_24h: int
    baseline: tuple[float, str] | None
    multiplier: float | None
    new: bool
    spiking: bool
    started_at: datetime | None


def trend(ctx: AnalysisContext, spike_multiplier: float = DEFAULTS["spike_multiplier"]) -> Trend | None:
    """The last hour against the baseline, and when the current episode began (None without stats)."""
    issue = ctx.issue
    hours = _series(issue.stats, "24h")
    if not hours:
        return None
    last_at, last_hour = hours[-1]
    base = baseline_per_hour(ctx)
    # The current bucket is the hour so far: compared with the share of an hour that has passed.
    elapsed = min(max((ctx.now - last_at).total_seconds() / 3600, 1 / 60), 1.0)
    multiplier = round(last_hour / (base[0] * elapsed), 1) if base and base[0] > 0 else None
    young = issue.first_seen is not None and ctx.now - issue.first_seen <= timedelta(hours=24)
    new = issue.substatus == "new" or (issue.substatus is None and young)
    spiking = multiplier is not None and multiplier >= spike_multiplier
    threshold = max(base[0] * 2, 1.0) if base else 0.0
    started = issue.first_seen if new else (spike_start(hours, threshold) if spiking else None)
    if issue.substatus == "regressed":
        started = regressed_at(issue.activity) or started
    return Trend(last_hour, last_at, sum(n for _, n in hours), base, multiplier, new, spiking, started)


def assess_impact(ctx: AnalysisContext) -> Finding | None:
    limits = DEFAULTS | ctx.options.get("thresholds", {})
    issue = ctx.issue
    data: dict[str, Any] = {
        "events": issue.count, "users": issue.user_count, "user_reports": issue.user_report_count,
        "thresholds": limits, **sentry_status(ctx),
    }
    t = trend(ctx, limits["spike_multiplier"])
    if t is None:
        over = issue.count >= limits["events"] or issue.user_count >= limits["users"]
        age_min = (ctx.now - issue.first_seen).total_seconds() / 60 if issue.first_seen else None
        burst = over and age_min is not None and age_min <= limits["burst_window_minutes"]
        shape = "burst" if burst else ("sustained" if over else "trickle")
        data |= {"shape": shape, "severity": "high" if burst else ("medium" if over else "low"),
                 "spike": burst, "over_threshold": over, "has_stats": False}
        return Finding(handler="impact", summary=f"{issue.count} events, {issue.user_count} users",
                       data=data, source="issue count, userCount (no stats)")
    high = t.spiking or issue.substatus == "escalating" or issue.priority == "high"
    baseline = round(t.baseline[0], 1) if t.baseline else None
    data |= {
        "has_stats": True, "last_hour": t.last_hour, "last_hour_from": t.last_hour_from,
        "minutes_in_hour": int(min((ctx.now - t.last_hour_from).total_seconds() // 60, 60)),
        "stale": ctx.now - t.last_hour_from > timedelta(hours=2),
        "events_24h": t.events_24h, "baseline_per_hour": baseline,
        "baseline_window": t.baseline[1] if t.baseline else None,
        "multiplier": t.multiplier, "spike": t.spiking, "new": t.new, "started_at": t.started_at,
        "minutes_since_start": int((ctx.now - t.started_at).total_seconds() // 60) if t.started_at else None,
        "shape": "spike" if t.spiking else ("new" if t.new else "steady"),
        "severity": "high" if high else ("medium" if issue.priority == "medium" else "low"),
        "over_threshold": issue.count >= limits["events"] or issue.user_count >= limits["users"],
    }
    summary = f"{t.last_hour} events since {t.last_hour_from:%H:%M} UTC"
    if t.multiplier is not None:
        summary += f", {t.multiplier:g}x the usual {baseline:g}/hour"
    return Finding(handler="impact", summary=summary, data=data, source=SOURCE_STATS)
