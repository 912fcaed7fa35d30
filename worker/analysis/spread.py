"""Who is affected: the issue's tag distributions, stated only where one value dominates, and the
users and user reports Sentry counted."""

from __future__ import annotations

from typing import Any

from shared.sentry.models import TagDistribution
from worker.analysis.base import AnalysisContext, Finding

USUAL = {("environment", "production"), ("environment", "prod")}  # true of nearly every issue: not news
CONCENTRATED = 0.9  # one value carries at least this share of the issue's events
NOUNS = {"server_name": "hosts", "browser": "browsers", "os": "systems", "release": "releases",
         "environment": "environments", "transaction": "transactions", "url": "URLs"}


def concentration(tag: TagDistribution) -> dict[str, Any] | None:
    if not tag.top_values or tag.total_values <= 0:
        return None
    top = max(tag.top_values, key=lambda v: v.count)
    share = top.count / tag.total_values
    if share < CONCENTRATED:
        return None
    unique = tag.unique_values if tag.unique_values is not None else len(tag.top_values)
    return {"key": tag.key, "value": top.value, "percent": int(share * 100), "count": top.count,
            "total": tag.total_values, "unique": unique, "noun": NOUNS.get(tag.key, f"{tag.key} values")}


def who_is_affected(ctx: AnalysisContext) -> Finding | None:
    said = ctx.event.release if ctx.event else None  # the release is stated under "what changed"
    found = [c for c in (concentration(t) for t in ctx.facts.tags) if c is not None
             and not (c["key"] == "release" and c["value"] == said) and (c["key"], c["value"]) not in USUAL]
    issue = ctx.issue
    if not found and not issue.user_count and not issue.user_report_count:
        return None
    parts = [f"{c['percent']}% {c['key']}={c['value']}" for c in found]
    return Finding(
        handler="spread", summary="; ".join(parts) or f"{issue.user_count} users",
        data={"concentrations": found, "users": issue.user_count, "user_reports": issue.user_report_count,
              "keys_checked": [t.key for t in ctx.facts.tags]},
        source="issues/{id}/tags/{key}/ (topValues, totalValues, uniqueValues); issue userCount, userReportCount",
    )
