"""Pydantic models of what Sentry's API returns and accepts, for the responder's issue workflow.

Tolerant of fields Sentry adds, strict where Sentry is strict (status values, ignore details).
The event models read both shapes Sentry uses: the API's camelCase (`lineNo`, `inApp`, `context`
pairs) and the raw snake_case event inside webhook payloads (`lineno`, `in_app`, `context_line`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator


class SentryModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _either(*names: str) -> Any:
    return Field(None, validation_alias=AliasChoices(*names))


# --- issues


class ProjectRef(SentryModel):
    id: str | int | None = None
    slug: str | None = None
    name: str | None = None
    platform: str | None = None


class Release(SentryModel):
    version: str
    short_version: str | None = Field(None, alias="shortVersion")
    date_created: datetime | None = Field(None, alias="dateCreated")


class Assignee(SentryModel):
    type: str
    id: str | int
    name: str | None = None
    email: str | None = None


class IssueOwner(SentryModel):
    """One of Sentry's suggested owners (`expand=owners`): `owner` is "team:<id>" or "user:<id>"."""

    type: str | None = None  # ownershipRule, codeowners, suspectCommit
    owner: str
    date_added: datetime | None = None


class Issue(SentryModel):
    id: str
    short_id: str | None = Field(None, alias="shortId")
    title: str = ""
    culprit: str | None = None
    level: str | None = None
    status: str = "unresolved"
    substatus: str | None = None
    platform: str | None = None
    count: int = 0
    user_count: int = Field(0, alias="userCount")
    first_seen: datetime | None = Field(None, alias="firstSeen")
    last_seen: datetime | None = Field(None, alias="lastSeen")
    project: ProjectRef = Field(default_factory=ProjectRef)
    metadata: dict[str, Any] = Field(default_factory=dict)
    status_details: dict[str, Any] = Field(default_factory=dict, alias="statusDetails")
    assigned_to: Assignee | None = Field(None, alias="assignedTo")
    permalink: str | None = None
    first_release: Release | None = Field(None, alias="firstRelease")
    last_release: Release | None = Field(None, alias="lastRelease")
    num_comments: int = Field(0, alias="numComments")
    issue_category: str | None = Field(None, alias="issueCategory")
    priority: str | None = None
    activity: list[dict[str, Any]] = Field(default_factory=list)
    # Issue 21: what the details endpoint adds (stats are kept unless `collapse=stats`).
    stats: dict[str, list[tuple[float, float]]] = Field(default_factory=dict)
    owners: list[IssueOwner] = Field(default_factory=list)
    user_report_count: int = Field(0, alias="userReportCount")
    tags: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("stats", mode="before")
    @classmethod
    def _no_stats(cls, value: object) -> object:
        return {} if value is None else value

    @field_validator("tags", mode="before")
    @classmethod
    def _null_list(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("count", mode="before")
    @classmethod
    def _count_from_string(cls, value: object) -> object:
        # Sentry sends `count` as a string ("1523") and `userCount` as an integer.
        return 0 if value is None else value

    @field_validator("activity", "owners", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("user_count", "num_comments", "user_report_count", mode="before")
    @classmethod
    def _none_is_zero(cls, value: object) -> object:
        return 0 if value is None else value


# --- events


class Frame(SentryModel):
    filename: str | None = None
    abs_path: str | None = _either("absPath", "abs_path")
    function: str | None = None
    module: str | None = None
    package: str | None = None
    lineno: int | None = _either("lineNo", "lineno")
    colno: int | None = _either("colNo", "colno")
    in_app: bool | None = _either("inApp", "in_app")
    context_line: str | None = None
    pre_context: list[str] = Field(default_factory=list)
    post_context: list[str] = Field(default_factory=list)
    context: list[tuple[int, str | None]] = Field(default_factory=list)

    @field_validator("pre_context", "post_context", "context", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    @model_validator(mode="after")
    def _context_line_from_pairs(self) -> Frame:
        """The API gives `context` as [lineno, line] pairs; find the frame's own line in it."""
        if self.context_line is None and self.context and self.lineno is not None:
            for number, line in self.context:
                if number == self.lineno:
                    self.context_line = line
        return self


class Stacktrace(SentryModel):
    frames: list[Frame] = Field(default_factory=list)

    @field_validator("frames", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value


class Mechanism(SentryModel):
    type: str | None = None
    handled: bool | None = None


class ExceptionValue(SentryModel):
    type: str | None = None
    value: str | None = None
    module: str | None = None
    stacktrace: Stacktrace | None = None
    mechanism: Mechanism | None = None

    @property
    def frames(self) -> list[Frame]:
        return self.stacktrace.frames if self.stacktrace else []


class Tag(SentryModel):
    key: str
    value: str | None = None


class Event(SentryModel):
    """An event from the API (`.../events/latest/`) or the raw event inside a webhook payload."""

    id: str | None = None
    event_id: str | None = _either("eventID", "event_id")
    group_id: str | None = _either("groupID", "issue_id")
    title: str = ""
    message: str | None = None
    culprit: str | None = None
    platform: str | None = None
    date_created: datetime | None = _either("dateCreated", "datetime")
    release: str | None = None
    environment: str | None = None
    tags: list[Tag] = Field(default_factory=list)
    entries: list[dict[str, Any]] = Field(default_factory=list)
    exception: dict[str, Any] | None = None
    contexts: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The raw webhook event carries these at the top; the API event as `entries` (issue 21).
    breadcrumbs: Any = None
    request: Any = None
    errors: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("errors", mode="before")
    @classmethod
    def _no_errors(cls, value: object) -> object:
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []

    def entry(self, kind: str) -> dict[str, Any]:
        """The `data` of the API event's entry of this type, or the raw event's field of that name."""
        for entry in self.entries:
            if entry.get("type") == kind and isinstance(entry.get("data"), dict):
                data: dict[str, Any] = entry["data"]
                return data
        raw = getattr(self, kind, None)
        return raw if isinstance(raw, dict) else {}

    @field_validator("release", mode="before")
    @classmethod
    def _release_version(cls, value: object) -> object:
        # The API gives the release as an object, the raw event as its version string.
        if isinstance(value, dict):
            return value.get("version")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_pairs(cls, value: object) -> object:
        # The API gives [{"key", "value"}], the raw event [[key, value]].
        if value is None:
            return []
        if isinstance(value, list):
            return [
                {"key": t[0], "value": t[1]} if isinstance(t, list | tuple) and len(t) == 2 else t
                for t in value
            ]
        return value

    @model_validator(mode="before")
    @classmethod
    def _fill_empties(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in ("entries", "contexts", "metadata"):
                if data.get(name) is None:
                    data = {**data, name: [] if name == "entries" else {}}
        return data

    def tag(self, key: str) -> str | None:
        return next((t.value for t in self.tags if t.key == key), None)

    @property
    def env(self) -> str | None:
        return self.environment or self.tag("environment")

    def exceptions(self) -> list[ExceptionValue]:
        """The exception chain, innermost last, as Sentry orders it."""
        values: object = None
        for entry in self.entries:
            if entry.get("type") == "exception":
                values = (entry.get("data") or {}).get("values")
                break
        if values is None and self.exception:
            values = self.exception.get("values")
        if not isinstance(values, list):
            return []
        return [ExceptionValue.model_validate(v) for v in values if isinstance(v, dict)]


class EventSummary(SentryModel):
    """An item of `.../issues/{id}/events/`."""

    id: str | None = None
    event_id: str | None = _either("eventID", "event_id")
    title: str = ""
    date_created: datetime | None = Field(None, alias="dateCreated")
    platform: str | None = None
    tags: list[Tag] = Field(default_factory=list)


# --- comments (notes)


class NoteData(SentryModel):
    text: str = ""


class Note(SentryModel):
    id: str
    type: str | None = None
    data: NoteData = Field(default_factory=NoteData)
    date_created: datetime | None = Field(None, alias="dateCreated")
    user: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return self.data.text


# --- updates (request bodies)

IssueStatus = Literal["resolved", "resolvedInNextRelease", "unresolved", "ignored"]


class StatusDetails(SentryModel):
    """Sentry's statusDetails; only the fields set are sent."""

    in_next_release: bool | None = Field(None, serialization_alias="inNextRelease")
    in_release: str | None = Field(None, serialization_alias="inRelease")
    ignore_duration: int | None = Field(None, gt=0, serialization_alias="ignoreDuration")
    ignore_count: int | None = Field(None, gt=0, serialization_alias="ignoreCount")
    ignore_window: int | None = Field(None, gt=0, le=10080, serialization_alias="ignoreWindow")
    ignore_user_count: int | None = Field(None, gt=0, serialization_alias="ignoreUserCount")
    ignore_user_window: int | None = Field(
        None, gt=0, le=10080, serialization_alias="ignoreUserWindow"
    )


class IssueUpdate(SentryModel):
    """The body of `PUT .../issues/{issue_id}/` for a status change or an assignment."""

    status: IssueStatus | None = None
    status_details: StatusDetails | None = Field(None, serialization_alias="statusDetails")
    substatus: Literal["archived_until_escalating", "archived_forever"] | None = None
    assigned_to: str | None = Field(None, serialization_alias="assignedTo")

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


# --- releases, tags (issue 21: what changed, who is affected)


class Deploy(SentryModel):
    id: str | None = None
    environment: str | None = None
    date_started: datetime | None = Field(None, alias="dateStarted")
    date_finished: datetime | None = Field(None, alias="dateFinished")
    name: str | None = None


class ReleaseDetails(SentryModel):
    """`GET /organizations/{org}/releases/{version}/?project=<id>`; with a project, Sentry adds
    `currentProjectMeta` naming the previous release of that project (the rollback candidate)."""

    version: str
    short_version: str | None = Field(None, alias="shortVersion")
    date_created: datetime | None = Field(None, alias="dateCreated")
    date_released: datetime | None = Field(None, alias="dateReleased")
    commit_count: int = Field(0, alias="commitCount")
    deploy_count: int = Field(0, alias="deployCount")
    last_deploy: Deploy | None = Field(None, alias="lastDeploy")
    current_project_meta: dict[str, Any] = Field(default_factory=dict, alias="currentProjectMeta")

    @field_validator("commit_count", "deploy_count", mode="before")
    @classmethod
    def _none_is_zero(cls, value: object) -> object:
        return 0 if value is None else value

    @field_validator("current_project_meta", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return {} if value is None else value

    @property
    def previous_version(self) -> str | None:
        value = self.current_project_meta.get("prevReleaseVersion")
        return str(value) if value else None


class CommitFile(SentryModel):
    """An item of `GET /organizations/{org}/releases/{version}/commitfiles/`: a file a commit of the
    release changed (Sentry's CommitFileChangeSerializer: no commit id, its message and author)."""

    filename: str
    type: str | None = None
    commit_message: str | None = Field(None, alias="commitMessage")
    author: dict[str, Any] = Field(default_factory=dict)
    repo_name: str | None = Field(None, alias="repoName")

    @field_validator("author", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return {} if value is None else value


class TagValue(SentryModel):
    value: str | None = None
    name: str | None = None
    count: int = 0


class TagDistribution(SentryModel):
    """`GET /organizations/{org}/issues/{issue_id}/tags/{key}/`: the issue's top values of one key."""

    key: str
    name: str | None = None
    total_values: int = Field(0, alias="totalValues")
    unique_values: int | None = Field(None, alias="uniqueValues")
    top_values: list[TagValue] = Field(default_factory=list, alias="topValues")
