"""Typed models of Sentry's integration-platform webhook payloads, chosen by `Sentry-Hook-Resource`.

Every model ignores fields it does not know, because Sentry adds fields over time; a delivery for
a resource not listed here is still accepted (as `UnknownWebhook`), so new Sentry resources never
turn into failed deliveries.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

# Every resource Sentry delivers (DELIVERY.md), and `ui_component`: requests signed only in the
# legacy `Sentry-App-Signature` header (UI components, alert-rule actions), which name none.
SENTRY_RESOURCES = frozenset({
    "installation", "issue", "error", "comment", "event_alert", "metric_alert", "seer",
    "preprod_artifact", "activity_alert",
})
UI_COMPONENT = "ui_component"
OTHER = "other"


def bounded_resource(name: str) -> str:
    """A resource name fit for a label or a record: one Sentry sends, or `other`."""
    return name if name in SENTRY_RESOURCES or name == UI_COMPONENT else OTHER


def _as_text(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# Ids go into Sentry API paths and Redis keys: only the forms Sentry uses get through (422 else).
# Numeric ids (issue, project, comment, seer run) are digits; event ids are 32 hex digits (or the
# dashed UUID form); installation uuids are UUIDs.
DigitsId = Annotated[str, BeforeValidator(_as_text), StringConstraints(pattern=r"^[0-9]{1,20}$")]
HEX_UUID = r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
DIGITS = re.compile(r"[0-9]{1,20}")
UuidId = Annotated[str, StringConstraints(pattern=HEX_UUID)]


class Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Actor(Tolerant):
    type: str
    id: str | int
    name: str | None = None

    @property
    def is_sentry(self) -> bool:
        return self.type == "application" and str(self.id) == "sentry"


class InstallationRef(Tolerant):
    uuid: UuidId


class WebhookIssue(Tolerant):
    """The issue as serialized into `issue.*` deliveries (Sentry's group serializer)."""

    id: DigitsId
    short_id: str | None = Field(None, alias="shortId")
    title: str = ""
    culprit: str | None = None
    level: str | None = None
    status: str | None = None
    substatus: str | None = None
    platform: str | None = None
    count: str | int | None = None
    user_count: int | None = Field(None, alias="userCount")
    first_seen: str | None = Field(None, alias="firstSeen")
    last_seen: str | None = Field(None, alias="lastSeen")
    project: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    status_details: dict[str, Any] = Field(default_factory=dict, alias="statusDetails")
    web_url: str | None = None

    @field_validator("project")
    @classmethod
    def _project_id_is_digits(cls, value: dict[str, Any]) -> dict[str, Any]:
        ident = value.get("id")
        if ident is not None and (isinstance(ident, bool) or not DIGITS.fullmatch(str(ident))):
            raise ValueError("project.id must be digits")
        return value


class RawEvent(Tolerant):
    """The raw event Sentry puts in `error.created` and `event_alert.triggered` deliveries."""

    event_id: UuidId
    issue_id: DigitsId | None = None
    project: DigitsId | None = None
    title: str | None = None
    culprit: str | None = None
    level: str | None = None
    platform: str | None = None
    release: str | None = None
    environment: str | None = None
    datetime: str | None = None
    exception: dict[str, Any] | None = None
    tags: list[list[str] | tuple[str, str]] | None = None
    web_url: str | None = None


class InstallationData(Tolerant):
    class Installation(Tolerant):
        uuid: UuidId
        status: str | None = None
        organization: dict[str, Any] = Field(default_factory=dict)
        app: dict[str, Any] = Field(default_factory=dict)
        code: str | None = None

    installation: Installation


class IssueData(Tolerant):
    issue: WebhookIssue
    assignee: dict[str, Any] | None = None
    resolution_type: str | None = None


class ErrorData(Tolerant):
    error: RawEvent


class EventAlertData(Tolerant):
    event: RawEvent
    triggered_rule: str
    issue_alert: dict[str, Any] | None = None


class MetricAlertData(Tolerant):
    metric_alert: dict[str, Any]
    description_text: str | None = None
    description_title: str | None = None
    web_url: str | None = None


class CommentData(Tolerant):
    comment: str
    comment_id: DigitsId
    issue_id: DigitsId
    project_slug: str | None = None
    timestamp: str | None = None


class SeerData(Tolerant):
    run_id: DigitsId
    group_id: DigitsId
    root_cause: dict[str, Any] | None = None  # seer.root_cause_completed: description and steps


class PreprodArtifactData(Tolerant):
    build_id: str = Field(alias="buildId")
    organization_slug: str | None = Field(None, alias="organizationSlug")
    project_slug: str | None = Field(None, alias="projectSlug")


class Envelope(Tolerant):
    """What every delivery has: the action, the installation and who acted."""

    action: str
    installation: InstallationRef | None = None
    actor: Actor | None = None
    data: Any = None

    resource: str = "unknown"

    def issue_id(self) -> str | None:
        return None


class InstallationWebhook(Envelope):
    resource: Literal["installation"] = "installation"
    data: InstallationData


class IssueWebhook(Envelope):
    resource: Literal["issue"] = "issue"
    data: IssueData

    def issue_id(self) -> str | None:
        return self.data.issue.id


class ErrorWebhook(Envelope):
    resource: Literal["error"] = "error"
    data: ErrorData

    def issue_id(self) -> str | None:
        return self.data.error.issue_id


class EventAlertWebhook(Envelope):
    resource: Literal["event_alert"] = "event_alert"
    data: EventAlertData

    def issue_id(self) -> str | None:
        return self.data.event.issue_id


class MetricAlertWebhook(Envelope):
    resource: Literal["metric_alert"] = "metric_alert"
    data: MetricAlertData


class CommentWebhook(Envelope):
    resource: Literal["comment"] = "comment"
    data: CommentData

    def issue_id(self) -> str | None:
        return str(self.data.issue_id)


class SeerWebhook(Envelope):
    resource: Literal["seer"] = "seer"
    data: SeerData

    def issue_id(self) -> str | None:
        return str(self.data.group_id)


class PreprodArtifactWebhook(Envelope):
    resource: Literal["preprod_artifact"] = "preprod_artifact"
    data: PreprodArtifactData


class UnknownWebhook(Envelope):
    """A resource this version does not know: accepted and recorded, never acted on."""

    data: Any = None


WEBHOOK_MODELS: dict[str, type[Envelope]] = {
    "installation": InstallationWebhook,
    "issue": IssueWebhook,
    "error": ErrorWebhook,
    "event_alert": EventAlertWebhook,
    "metric_alert": MetricAlertWebhook,
    "comment": CommentWebhook,
    "seer": SeerWebhook,
    "preprod_artifact": PreprodArtifactWebhook,
}

AnyWebhook = (
    InstallationWebhook
    | IssueWebhook
    | ErrorWebhook
    | EventAlertWebhook
    | MetricAlertWebhook
    | CommentWebhook
    | SeerWebhook
    | PreprodArtifactWebhook
    | UnknownWebhook
)


def is_known_resource(resource: str) -> bool:
    return resource in WEBHOOK_MODELS


def parse_webhook(resource: str, payload: object) -> Envelope:
    """Validate a decoded body against its resource's model; raises pydantic.ValidationError."""
    model = WEBHOOK_MODELS.get(resource)
    if model is None:
        envelope = UnknownWebhook.model_validate(payload)
        envelope.resource = resource
        return envelope
    return model.model_validate(payload)
