"""One incident or many: other issues of the organization first seen in the same window."""

from __future__ import annotations

import re
from collections import Counter

from worker.analysis.base import AnalysisContext, Finding
from worker.analysis.classify import classify

LIKELY_ONE_INCIDENT = 2  # at least this many others alike in the window
SAFE_LINK = re.compile(r"^https?://[^\s()\[\]<>`]+$")  # Sentry's permalink, nothing that breaks a link


def safe_link(url: str | None) -> str | None:
    return url if url and SAFE_LINK.match(url) else None


def related_issues(ctx: AnalysisContext) -> Finding | None:
    window = ctx.facts.related
    if window is None:
        return None
    others = sorted(  # in the order they started
        (i for i in window.issues if i.id != ctx.issue.id and i.first_seen is not None),
        key=lambda i: (i.first_seen, i.id),
    )
    if not others:
        return None
    mine = classify(ctx)
    category = mine.data.get("category") if mine else None
    alike = []
    for other in others:
        found = classify(AnalysisContext(ctx.resource, ctx.action, other, None, ctx.now, ctx.options))
        if found is not None and category not in (None, "unclassified") and found.data.get("category") == category:
            alike.append(other)
    projects = Counter(i.project.slug or "?" for i in others)
    listed = [{"short_id": i.short_id or i.id, "title": i.title, "link": safe_link(i.permalink),
               "project": i.project.slug, "first_seen": i.first_seen} for i in others[:5]]
    one_incident = len(alike) >= LIKELY_ONE_INCIDENT
    summary = f"{len(others)} other issues started within {window.minutes} min"
    return Finding(
        handler="related", summary=summary,
        data={"count": len(others), "minutes": window.minutes, "around": window.around,
              "projects": dict(projects.most_common()), "alike": len(alike), "category": category,
              "likely_one_incident": one_incident, "issues": listed},
        source="organizations/{org}/issues/?query=firstSeen:>=… firstSeen:<=…&statsPeriod=…",
    )
