"""What the read API accepts: path and query parameters as pydantic models (validated at the edge,
and turned into the OpenAPI schema's parameters)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from gateway.sentry_api.models import Period

IssueId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$", description="Sentry's numeric issue id")]
EventId = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$", description="32 hex digits")]
Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,100}$")]
Cursor = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[0-9:.\-]+$")]


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatsQuery(Query):
    period: Period = "24h"


class IssuesQuery(Query):
    project: Slug | None = None
    status: Literal["unresolved", "resolved", "ignored", "archived"] | None = None
    query: str | None = Field(None, max_length=500, description="Sentry search syntax")
    cursor: Cursor | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(25, ge=1, le=100)


class EventsQuery(Query):
    limit: int = Field(25, ge=1, le=100)
    cursor: Cursor | None = None


class UserEventsQuery(Query):
    at: datetime = Field(description="ISO 8601 time; UTC when no offset is given")
    window: str = Field("5m", pattern=r"^\d{1,5}[smh]$", description="either side of `at`, e.g. 30s, 5m, 2h")


class DigestQuery(Query):
    max_chars: int = Field(4000, ge=200, le=20000)


class IssuePath(Query):
    issue_id: IssueId


class EventPath(Query):
    event_id: EventId


class ProjectPath(Query):
    slug: Slug


class UserPath(Query):
    user_id: str = Field(min_length=1, max_length=200)


class NoQuery(Query):
    pass


class IdempotencyKey(Query):
    key: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")


QueryT = TypeVar("QueryT", bound=BaseModel)
