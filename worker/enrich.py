"""Gather the optional facts around an issue (issue 21), concurrently, within a call allowance.

Every fact costs Sentry calls from the shared budget, so: what is shared between issues is cached
in Redis (a release and its changed files per release, tag distributions per issue for a few
minutes, the related-issues query for a minute); the rest is fetched at once (asyncio.gather);
and at most `allowance` calls are made, in the order of what an on-call engineer asks first (what
changed, who, one incident or many). Who: the most telling tag key for the platform (server_name,
browser), plus any key the rules file names (`tag_keys`). One incident: one search of the issues
first seen in the last hours serves every issue of the organization for a minute; each keeps those
first seen within ten minutes of its own start. When the shared budget is low nothing optional is fetched.
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
from worker.singleflight import SingleFlight

log = structlog.get_logger("worker.enrich")

RELATED_WINDOW_MIN = 10
RECENT_HOURS = 6
# The release is told under "what changed", from the release itself: not a tag call here.
BACKEND_KEYS = ("server_name", "transaction", "environment")
FRONTEND_KEYS = ("browser", "os", "url", "environment")
FRONTEND_PLATFORMS = {"javascript", "node", "cocoa", "android", "react-native", "flutter"}


@dataclass(frozen=True)
class EnrichLimits:
    release_ttl_s: int = 600
    tags_ttl_s: int = 300
    related_ttl_s: int = 60
    deadline_s: float = 5.0


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
    """The keys worth a call, most telling first; only keys Sentry lists for the issue (none listed:
    no call, rather than a guess answered 404)."""
    platform = (event.platform if event else None) or issue.platform or ""
    base = FRONTEND_KEYS if platform in FRONTEND_PLATFORMS else BACKEND_KEYS
    ordered = list(dict.fromkeys([base[0], *extra, *base[1:]]))
    present = {str(t.get("key")) for t in issue.tags}  # the details endpoint lists the issue's keys
    return [k for k in ordered if k in present]


def recent_query(now: datetime) -> tuple[str, str]:
    """One search serves every issue of the organization for a minute: the issues first seen in
    the last hours (newest first); each analysis keeps those within its own window."""
    since = (now - timedelta(hours=RECENT_HOURS)).replace(second=0, microsecond=0)
    return f"firstSeen:>={since:%Y-%m-%dT%H:%M:%S}", f"{RECENT_HOURS}h"


def window_query(around: datetime, now: datetime) -> tuple[str, str] | None:
    """For an episode older than the recent search: issues first seen within its own window."""
    start, end = around - timedelta(minutes=RELATED_WINDOW_MIN), around + timedelta(minutes=RELATED_WINDOW_MIN)
    hours = math.ceil((now - start).total_seconds() / 3600) + 1
    if hours > 90 * 24:
        return None
    query = f"firstSeen:>={start:%Y-%m-%dT%H:%M:%S} firstSeen:<={end:%Y-%m-%dT%H:%M:%S}"
    return query, f"{hours}h" if hours <= 24 else f"{math.ceil(hours / 24)}d"


def episode_start(ctx: AnalysisContext) -> datetime | None:
    episode = trend(ctx)
    return (episode.started_at if episode else None) or ctx.issue.first_seen


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
    around = episode_start(ctx)
    reach = timedelta(hours=RECENT_HOURS) - timedelta(minutes=RELATED_WINDOW_MIN)
    recent = around is not None and ctx.now - around < reach
    window = (recent_query(ctx.now) if recent else window_query(around, ctx.now)) if around else None
    if window is not None:
        query, period = window

        async def related() -> BaseModel:
            return IssueList(issues=await client.list_organization_issues(query, period))
        out.append(Wanted("related issues", "related", f"{org}:{query}", IssueList, limits.related_ttl_s, related))
    asked = set(ctx.options.get("tag_keys", []))
    for item in tags[1:]:
        if item.name.removeprefix("tag ") in asked:  # the rules file asked for these: worth a call
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
    flights: SingleFlight | None = None,
) -> Facts:
    facts = ctx.facts.model_copy()
    wanted = wanted_facts(client, ctx, limits)
    flights = flights or SingleFlight()
    to_fetch: list[Wanted] = []
    pending: list[Awaitable[Any]] = []
    calls = 0
    for item in wanted:
        item.value = await cache.get(item.kind, item.ident, item.model) if cache else None
        if item.value is not None:
            continue
        key = f"{item.kind}:{item.ident}"
        reason = "Sentry budget low" if budget_low else ("call allowance spent" if calls >= allowance else None)
        if flights.joins(key) or reason is None:  # joining another job's call costs nothing
            calls += 0 if flights.joins(key) else 1
            to_fetch.append(item)
            pending.append(flights.start(key, fetch_and_keep(item, cache)))
        elif not item.extra:  # the further tag keys are a bonus: not missed aloud
            facts.skipped.append(f"{item.name} ({reason})")
    tasks = [asyncio.ensure_future(p) for p in pending]
    if tasks:  # optional facts get a deadline: a slow Sentry delays the comment by this much at most
        await asyncio.wait(tasks, timeout=limits.deadline_s)
    facts.calls += calls
    for item, task in zip(to_fetch, tasks, strict=True):
        if not task.done():
            task.cancel()  # only this job's wait: a shared call still fills the cache for the next
            facts.skipped.append(f"{item.name} (Sentry too slow)")
            continue
        result = task.exception() or task.result()
        if isinstance(result, SentryNotFound) and item.kind == "tag":
            continue  # the issue has no such tag: nothing to say, nothing missed
        if isinstance(result, SentryError):
            facts.skipped.append(f"{item.name} (Sentry answered {result.status or 'no answer'})")
            log.info("enrichment_failed", fact=item.name, error=str(result))
        elif isinstance(result, BaseException):
            raise result
        else:
            item.value = result
    return apply(facts, wanted, ctx)


def fetch_and_keep(item: Wanted, cache: FetchCache | None) -> Callable[[], Awaitable[BaseModel]]:
    """The call, and the cache filled before anyone waiting on the call hears of the result, so a
    job starting in between finds it cached."""
    async def run() -> BaseModel:
        value = await item.fetch()
        if cache:
            await cache.put(item.kind, item.ident, value, ttl_s=item.ttl_s)
        return value

    return run


def apply(facts: Facts, wanted: list[Wanted], ctx: AnalysisContext) -> Facts:
    values: dict[str, Any] = {w.name: w.value for w in wanted if w.value is not None}
    facts.release = values.get("release")
    files = values.get("commits")
    facts.commit_files = files.files if isinstance(files, CommitFiles) else None
    facts.tags = [v for k, v in values.items() if k.startswith("tag ") and isinstance(v, TagDistribution)]
    related = values.get("related issues")
    around = episode_start(ctx)
    if isinstance(related, IssueList) and around is not None:
        near = timedelta(minutes=RELATED_WINDOW_MIN)
        issues = [i for i in related.issues if i.first_seen is not None and abs(i.first_seen - around) <= near]
        facts.related = RelatedWindow(around=around, minutes=RELATED_WINDOW_MIN, issues=issues)
    return facts
