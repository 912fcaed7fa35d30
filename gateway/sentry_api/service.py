"""The read API's work, one method per question, shared by the HTTP routes and the MCP tools.

Every Sentry call goes through the one client (the API's budget, shared/sentry/ratelimit.py) and,
where an answer can be reused, the same short-lived cache as the worker's jobs (issue, latest
event). The responder's own view of an issue comes from the job store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.sentry_api.digest import render_digest
from gateway.sentry_api.errors import ApiError
from gateway.sentry_api.models import (
    EventPage,
    EventStacktrace,
    EventSummary,
    IssueDetail,
    IssuePage,
    IssueSummary,
    Period,
    Project,
    Projects,
    ProjectStats,
    ResponderView,
    UserEvent,
    UserEvents,
)
from shared.api_actions import API_ACTION
from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.sentry.cache import FetchCache
from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryNotFound
from shared.sentry.models import Event, Issue
from shared.sentry.stack import normalize_stack

STATS_INTERVAL = {"24h": "1h", "7d": "1d", "30d": "1d"}
REJECTED = ("rate_limited", "invalid", "abuse", "cardinality_limited")
WINDOW_RE = re.compile(r"^(\d{1,5})([smh])$")
MAX_WINDOW = timedelta(hours=24)
JOB_SCAN_LIMIT = 5000  # newest job records looked at for an issue's latest findings
SEARCH_VALUE_RE = re.compile(r'^[^\s"\\]+$')


def parse_window(text: str) -> timedelta:
    match = WINDOW_RE.match(text)
    if match is None:
        raise ApiError(422, "invalid_query", "window: give a number and s, m or h, e.g. 5m")
    amount, unit = int(match[1]), match[2]
    window = timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours"}[unit]: amount})
    if not timedelta(0) < window <= MAX_WINDOW:
        raise ApiError(422, "invalid_query", "window: between 1s and 24h")
    return window


def search_value(value: str) -> str:
    """A value for Sentry's search syntax: bare when it can be, else quoted with escapes."""
    if SEARCH_VALUE_RE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tags(event: Event | None) -> dict[str, str | None]:
    return {t.key: t.value for t in event.tags} if event else {}


@dataclass
class ReadService:
    client: SentryClient
    cache: FetchCache
    store: JobStore

    @property
    def org(self) -> str:
        return self.client.organization

    # --- projects

    async def projects(self) -> Projects:
        cached = await self.cache.get("projects", self.org, Projects)
        if cached is not None:
            return cached
        data, _ = await self.client.get_page(f"organizations/{self.org}/projects/")
        projects = Projects(projects=[Project.model_validate(p) for p in data if isinstance(p, dict)])
        await self.cache.put("projects", self.org, projects)
        return projects

    async def project(self, slug: str) -> Project:
        cached = await self.cache.get("project", f"{self.org}:{slug}", Project)
        if cached is not None:
            return cached
        data, _ = await self.client.get_page(f"projects/{self.org}/{slug}/")
        project = Project.model_validate(data)
        await self.cache.put("project", f"{self.org}:{slug}", project)
        return project

    async def project_stats(self, slug: str, period: Period) -> ProjectStats:
        project = await self.project(slug)
        params: dict[str, str | list[str]] = {
            "field": "sum(quantity)", "groupBy": ["outcome"], "category": "error",
            "project": [project.id], "statsPeriod": period, "interval": STATS_INTERVAL[period],
        }
        data, _ = await self.client.get_page(f"organizations/{self.org}/stats_v2/", params)
        totals: dict[str, int] = {}
        for group in data.get("groups") or []:
            outcome = str((group.get("by") or {}).get("outcome"))
            totals[outcome] = totals.get(outcome, 0) + int((group.get("totals") or {}).get("sum(quantity)") or 0)
        accepted, filtered = totals.get("accepted", 0), totals.get("filtered", 0)
        rejected = sum(totals.get(o, 0) for o in REJECTED)
        return ProjectStats(
            project=slug, period=period, received=accepted + filtered + rejected, accepted=accepted,
            filtered=filtered, rejected=rejected, start=data.get("start"), end=data.get("end"),
        )

    # --- issues

    async def issues(
        self, project: str | None = None, status: str | None = None, query: str | None = None,
        cursor: str | None = None, limit: int = 25,
    ) -> IssuePage:
        terms = ([f"is:{status}"] if status else []) + ([query] if query else [])
        params: dict[str, str | list[str]] = {"query": " ".join(terms), "limit": str(limit)}
        if project:
            params["project"] = [project]
        if cursor:
            params["cursor"] = cursor
        data, next_cursor = await self.client.get_page(f"organizations/{self.org}/issues/", params)
        issues = [IssueSummary.of(Issue.model_validate(i)) for i in data if isinstance(i, dict)]
        return IssuePage(issues=issues, next_cursor=next_cursor)

    async def issue(self, issue_id: str) -> Issue:
        issue = await self.cache.get("issue", issue_id, Issue)
        if issue is None:
            issue = await self.client.get_issue(issue_id)
            await self.cache.put("issue", issue_id, issue)
        return issue

    async def latest_event(self, issue_id: str) -> Event | None:
        event = await self.cache.get("event", issue_id, Event)
        if event is None:
            try:
                event = await self.client.get_event(issue_id, "latest")
            except SentryNotFound:
                return None
            await self.cache.put("event", issue_id, event)
        return event

    async def issue_detail(self, issue_id: str) -> IssueDetail:
        issue = await self.issue(issue_id)
        event = await self.latest_event(issue_id)
        return IssueDetail(
            issue=IssueSummary.of(issue), latest_event_id=event.event_id if event else None,
            stacktrace=normalize_stack(event) if event else None, tags=_tags(event),
            responder=await self.responder_view(issue_id),
        )

    async def responder_view(self, issue_id: str) -> ResponderView | None:
        """The newest analysis of the issue that succeeded with findings (a scan of the newest records)."""
        high: tuple[float, str] | None = None
        looked = 0
        while looked < JOB_SCAN_LIMIT:
            batch = await self.store.scan(None, high, 500)
            if not batch:
                return None
            looked += len(batch)
            high = batch[-1]
            rows = await self.store.fields_of((i for _, i in batch), ("issue_id", "state", "resource"))
            for row in rows:
                analysed = row.get("resource") != API_ACTION  # a service's request is not an analysis
                if row.get("issue_id") == issue_id and row.get("state") == JobState.SUCCEEDED.value and analysed:
                    record = await self.store.get(row["id"])
                    if record is not None and record.findings:
                        return ResponderView(
                            job_id=record.id, state=record.state.value, resource=record.resource,
                            finished_at=record.finished_at, findings=record.findings, plan=record.plan,
                        )
        return None

    async def issue_events(self, issue_id: str, limit: int = 25, cursor: str | None = None) -> EventPage:
        params: dict[str, str | list[str]] = {"per_page": str(limit)}
        if cursor:
            params["cursor"] = cursor
        data, next_cursor = await self.client.get_page(f"organizations/{self.org}/issues/{issue_id}/events/", params)
        events = [Event.model_validate(e) for e in data if isinstance(e, dict)]
        return EventPage(
            events=[
                EventSummary(id=e.id, event_id=e.event_id, title=e.title, date_created=e.date_created,
                             platform=e.platform, tags=_tags(e))
                for e in events
            ],
            next_cursor=next_cursor,
        )

    async def event_stacktrace(self, event_id: str) -> EventStacktrace:
        data, _ = await self.client.get_page(f"organizations/{self.org}/eventids/{event_id}/")
        event = Event.model_validate(data.get("event") or {})
        return EventStacktrace(
            event_id=str(data.get("eventId") or event_id), issue_id=data.get("groupId"),
            project=data.get("projectSlug"), stacktrace=normalize_stack(event),
        )

    async def user_events(self, user_id: str, at: datetime, window: timedelta) -> UserEvents:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        try:
            start, end = at - window, at + window
        except OverflowError:  # 9999-12-31 + 5m: a 500 from a bad query otherwise
            raise ApiError(422, "invalid_query", "at: the window around it leaves the calendar") from None
        params: dict[str, str | list[str]] = {
            "dataset": "errors", "field": ["id", "title", "timestamp", "issue.id", "project", "level"],
            "query": f"user.id:{search_value(user_id)}", "sort": "-timestamp", "per_page": "100",
            "start": start.isoformat(), "end": end.isoformat(),
        }
        data, _ = await self.client.get_page(f"organizations/{self.org}/events/", params)
        rows: list[dict[str, Any]] = [r for r in data.get("data") or [] if isinstance(r, dict)]
        events = [
            UserEvent(id=r.get("id"), title=r.get("title"), timestamp=r.get("timestamp"),
                      issue_id=str(r["issue.id"]) if r.get("issue.id") is not None else None,
                      project=r.get("project"), level=r.get("level"))
            for r in rows
        ]
        return UserEvents(user_id=user_id, start=start, end=end, events=events)

    async def digest(self, issue_id: str, max_chars: int = 4000) -> str:
        issue = await self.issue(issue_id)
        event = await self.latest_event(issue_id)
        view = await self.responder_view(issue_id)
        return render_digest(issue, event, view, max_chars)
