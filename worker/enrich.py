"""Gather the optional facts around an issue (issue 21), concurrently, within a call allowance.

Every fact costs Sentry calls from the shared budget, so: what is shared between issues is cached
in Redis (a release and its changed files per release, tag distributions per issue for a few
minutes, the related-issues query for a minute); the rest is fetched at once (asyncio.gather);
and at most `allowance` calls are made, in the order of what an on-call engineer asks first (what
changed, who, one incident or many). When the shared budget is low nothing optional is fetched.
A fact that is not fetched, or that Sentry refuses, is named in `Facts.skipped`; it never fails
the job nor keeps the comment from being written.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel

from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryError, SentryNotFound
from shared.sentry.models import Event, Issue, ReleaseDetails, TagDistribution
from worker.analysis.base import AnalysisContext
from worker.analysis.changes import release_version
from worker.analysis.facts import CommitFiles, Facts, IssueList, RelatedWindow
from worker.analysis.impact import trend
from worker.context import FetchCache

log = structlog.get_logger("worker.enrich")

RELATED_WINDOW_MIN = 10
# The release is told under "what changed", from the release itself: not a tag call here.
BACKEND_KEYS = ("server_name", "transaction", "environment")
FRONTEND_KEYS = ("browser", "os", "url", "environment")
FRONTEND_PLATFORMS = {"javascript", "node", "cocoa", "android", "react-native", "flutter"}


@dataclass(frozen=True)
class EnrichLimits:
    release_ttl_s: int = 600
    tags_ttl_s: int = 300
    related_ttl_s: int = 60


@dataclass
class Wanted:
    """One optional call: its name in the comment, the cache slot, and how to fetch and store it."""

    name: str
    kind: str
    ident: str
    model: type[BaseModel]
    ttl_s: int
    fetch: Callable[[], Awaitable[BaseModel]]
    value: BaseModel | None = field(default=None)
    extra: bool = False


def tag_keys(issue: Issue, event: Event | None, extra: list[str]) -> list[str]:
    """The keys worth a call, most telling first; only keys the issue actually has."""
    platform = (event.platform if event else None) or issue.platform or ""
    base = FRONTEND_KEYS if platform in FRONTEND_PLATFORMS else BACKEND_KEYS
    ordered = list(dict.fromkeys([base[0], *extra, *base[1:]]))
    present = {str(t.get("key")) for t in issue.tags} or {t.key for t in (event.tags if event else [])}
    return [k for k in ordered if k in present] if present else ordered


def related_query(around: datetime, now: datetime) -> tuple[str, str] | None:
    """Sentry search for issues first seen within the window, and a statsPeriod that covers it."""
    start, end = around - timedelta(minutes=RELATED_WINDOW_MIN), around + timedelta(minutes=RELATED_WINDOW_MIN)
    hours = math.ceil((now - start).total_seconds() / 3600) + 1
    if hours > 90 * 24:
        return None
    query = f"firstSeen:>={start:%Y-%m-%dT%H:%M:%S} firstSeen:<={end:%Y-%m-%dT%H:%M:%S}"
    return query, f"{hours}h" if hours <= 24 else f"{math.ceil(hours / 24)}d"


def wanted_facts(
    client: SentryClient, ctx: AnalysisContext, limits: EnrichLimits
) -> list[Wanted]:
    """The optional calls, in priority order: release, changed files, a first tag key, related
    issues, then the remaining tag keys."""
    issue, event, org = ctx.issue, ctx.event, client.organization
    out: list[Wanted] = []
    version = release_version(ctx)
    project = str(issue.project.id) if issue.project.id is not None else issue.project.slug
    if version:
        out.append(Wanted("release", "release", f"{org}:{version}:{project}", ReleaseDetails, limits.release_ttl_s,
                          lambda: client.get_release(version, project)))
        has_frames = bool(event and any(f.in_app for e in event.exceptions() for f in e.frames))
        if has_frames and not any(o.type == "suspectCommit" for o in issue.owners):
            async def files() -> BaseModel:
                return CommitFiles(files=await client.list_release_commit_files(version))
            out.append(Wanted("commits", "commitfiles", f"{org}:{version}", CommitFiles, limits.release_ttl_s, files))
    tags = [Wanted(f"tag {key}", "tag", f"{issue.id}:{key}", TagDistribution, limits.tags_ttl_s,
                   (lambda k=key: client.get_issue_tag(issue.id, k)))  # type: ignore[misc]
            for key in tag_keys(issue, event, list(ctx.options.get("tag_keys", [])))]
    out.extend(tags[:1])
    episode = trend(ctx)
    around = (episode.started_at if episode else None) or issue.first_seen
    window = related_query(around, ctx.now) if around else None
    if window is not None:
        query, period = window

        async def related() -> BaseModel:
            return IssueList(issues=await client.list_organization_issues(query, period))
        out.append(Wanted("related issues", "related", f"{org}:{query}", IssueList, limits.related_ttl_s, related))
    for item in tags[1:]:
        item.extra = True
        out.append(item)
    return out


async def gather_facts(
    client: SentryClient,
    cache: FetchCache | None,
    ctx: AnalysisContext,
    allowance: int,
    budget_low: bool,
    limits: EnrichLimits,
) -> Facts:
    facts = ctx.facts.model_copy()
    wanted = wanted_facts(client, ctx, limits)
    to_fetch: list[Wanted] = []
    for item in wanted:
        item.value = await cache.get(item.kind, item.ident, item.model) if cache else None
        if item.value is not None:
            continue
        reason = "Sentry budget low" if budget_low else ("call allowance spent" if len(to_fetch) >= allowance else None)
        if reason is None:
            to_fetch.append(item)
        elif not item.extra:  # the further tag keys are a bonus: not missed aloud
            facts.skipped.append(f"{item.name} ({reason})")
    results = await asyncio.gather(*(w.fetch() for w in to_fetch), return_exceptions=True)
    facts.calls += len(to_fetch)
    for item, result in zip(to_fetch, results, strict=True):
        if isinstance(result, SentryNotFound) and item.kind == "tag":
            continue  # the issue has no such tag: nothing to say, nothing missed
        if isinstance(result, SentryError):
            facts.skipped.append(f"{item.name} (Sentry answered {result.status or 'no answer'})")
            log.info("enrichment_failed", fact=item.name, error=str(result))
        elif isinstance(result, BaseException):
            raise result
        else:
            item.value = result
            if cache:
                await cache.put(item.kind, item.ident, result, ttl_s=item.ttl_s)
    return apply(facts, wanted, ctx)


def apply(facts: Facts, wanted: list[Wanted], ctx: AnalysisContext) -> Facts:
    values: dict[str, Any] = {w.name: w.value for w in wanted if w.value is not None}
    facts.release = values.get("release")
    files = values.get("commits")
    facts.commit_files = files.files if isinstance(files, CommitFiles) else None
    facts.tags = [v for k, v in values.items() if k.startswith("tag ") and isinstance(v, TagDistribution)]
    related = values.get("related issues")
    if isinstance(related, IssueList):
        episode = trend(ctx)
        around = (episode.started_at if episode else None) or ctx.issue.first_seen
        assert around is not None
        facts.related = RelatedWindow(around=around, minutes=RELATED_WINDOW_MIN, issues=related.issues)
    return facts
