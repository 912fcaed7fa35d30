"""What the read API answers, as pydantic models: the OpenAPI schema and the MCP tools' typed
outputs are generated from these, so the three cannot drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.sentry.models import Issue
from shared.sentry.stack import NormalStack

Period = Literal["24h", "7d", "30d"]


class Project(BaseModel):
    id: str
    slug: str
    name: str | None = None
    platform: str | None = None


class Projects(BaseModel):
    projects: list[Project]


class ProjectStats(BaseModel):
    """Error events over the period, from Sentry's stats_v2: `received` is everything that reached
    Sentry (accepted + filtered + rejected); `rejected` is rate limited, invalid, abuse or over quota."""

    project: str
    period: Period
    received: int
    accepted: int
    filtered: int
    rejected: int
    start: str | None = None
    end: str | None = None


class IssueSummary(BaseModel):
    id: str
    short_id: str | None = None
    title: str
    culprit: str | None = None
    level: str | None = None
    status: str
    substatus: str | None = None
    platform: str | None = None
    project: str | None = None
    count: int = 0
    user_count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    assigned_to: str | None = None
    permalink: str | None = None

    @classmethod
    def of(cls, issue: Issue) -> IssueSummary:
        who = issue.assigned_to
        return cls(
            id=issue.id, short_id=issue.short_id, title=issue.title, culprit=issue.culprit, level=issue.level,
            status=issue.status, substatus=issue.substatus, platform=issue.platform, project=issue.project.slug,
            count=issue.count, user_count=issue.user_count, first_seen=issue.first_seen, last_seen=issue.last_seen,
            assigned_to=f"{who.type}:{who.id}" if who else None, permalink=issue.permalink,
        )


class IssuePage(BaseModel):
    issues: list[IssueSummary]
    next_cursor: str | None = Field(None, description="Sentry's cursor for the next page, passed through as it is")


class ResponderView(BaseModel):
    """The responder's latest finished job for the issue: its findings and plan (secrets masked)."""

    job_id: str
    state: str
    resource: str
    finished_at: float | None = None
    findings: list[dict[str, Any]] = Field(default_factory=list)
    plan: list[dict[str, Any]] = Field(default_factory=list)


class IssueDetail(BaseModel):
    issue: IssueSummary
    latest_event_id: str | None = None
    stacktrace: NormalStack | None = None
    tags: dict[str, str | None] = Field(default_factory=dict, description="the latest event's tags")
    responder: ResponderView | None = None


class EventSummary(BaseModel):
    id: str | None = None
    event_id: str | None = None
    title: str = ""
    date_created: datetime | None = None
    platform: str | None = None
    tags: dict[str, str | None] = Field(default_factory=dict)


class EventPage(BaseModel):
    events: list[EventSummary]
    next_cursor: str | None = None


class EventStacktrace(BaseModel):
    event_id: str
    issue_id: str | None = None
    project: str | None = None
    stacktrace: NormalStack


class UserEvent(BaseModel):
    id: str | None = None
    title: str | None = None
    timestamp: str | None = None
    issue_id: str | None = None
    project: str | None = None
    level: str | None = None


class UserEvents(BaseModel):
    user_id: str
    start: datetime
    end: datetime
    events: list[UserEvent]


class ActionAccepted(BaseModel):
    job_id: str
    status: Literal["queued", "duplicate"]


class ErrorBody(BaseModel):
    error: str
    detail: str
