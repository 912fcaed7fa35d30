"""Actions a service asks for through the read/act API: the queue contract for them.

The vocabulary is the rules file's `actions:` block (worker/rules.py `Actions`), so a service can
ask for exactly what a playbook could do, except `assign: owner` (that needs the analysis) and a
comment template (a service sends the text). A request is explicit, so it needs no
`allow_destructive`: asking to resolve is the opt-in (and only `read+act` tokens may ask).
The request becomes a `Delivery` of resource `api_action`, queued and recorded like a webhook's,
so the dashboard, retries, dead letters, undo and the audit trail treat it the same way.
"""

from __future__ import annotations

import hashlib
import time
import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.assignees import check_assignee
from shared.jobs import Delivery

API_ACTION = "api_action"
MAX_COMMENT_CHARS = 10_000


# Sentry's bounds (src/sentry/api/helpers/group_index/validators/status_details.py): the windows
# are IntegerFields with max_value 7*24*60 (a 400 beyond). The counts are plain IntegerFields whose
# values land in Postgres integer columns (GroupSnooze's), so above 2**31 - 1 Sentry fails with a
# 500. The duration is no column: `update_groups` adds `timedelta(minutes=...)` to now, which
# Sentry takes up to datetime's year 9999 (about 4.2e9 minutes from 2026) and fails with a 500
# (OverflowError) beyond. Our choice: the same 2**31 - 1 for minutes, about 4,000 years, far
# below that overflow and a bound that does not move with the clock. Beyond these, a clear 422.
MAX_IGNORE_WINDOW_MIN = 7 * 24 * 60
MAX_SENTRY_INT = 2**31 - 1  # counts: Sentry's column; minutes: our bound below its datetime's


class IgnoreSpec(BaseModel):
    """As the rules file's `ignore:`: exactly one of minutes, count, users or until_escalating."""

    model_config = ConfigDict(extra="forbid")

    minutes: int | None = Field(None, gt=0, le=MAX_SENTRY_INT)
    count: int | None = Field(None, gt=0, le=MAX_SENTRY_INT)
    users: int | None = Field(None, gt=0, le=MAX_SENTRY_INT)
    window_minutes: int | None = Field(None, gt=0, le=MAX_IGNORE_WINDOW_MIN)
    until_escalating: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> IgnoreSpec:
        kinds = [self.minutes is not None, self.count is not None, self.users is not None, self.until_escalating]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of minutes, count, users or until_escalating")
        return self


class ActionRequest(BaseModel):
    """The body of `POST /api/sentry/issues/{id}/actions`; at least one action."""

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(None, min_length=1, max_length=MAX_COMMENT_CHARS)
    assign: str | None = Field(
        None, min_length=1, max_length=200, description='"user:<id>", "team:<id>", a username or e-mail'
    )
    resolve: bool = False
    resolve_in_next_release: bool = False
    unresolve: bool = False
    ignore: IgnoreSpec | None = None

    @field_validator("assign")
    @classmethod
    def _sentry_assignee(cls, value: str | None) -> str | None:
        if value == "owner":
            raise ValueError('"owner" needs the analysis; name the user or team')
        return None if value is None else check_assignee(value)

    @model_validator(mode="after")
    def _something(self) -> ActionRequest:
        if not (self.comment or self.assign or self.resolve or self.resolve_in_next_release
                or self.unresolve or self.ignore):
            raise ValueError("ask for at least one action")
        return self


def action_job_id(requested_by: str, idempotency_key: str | None) -> str:
    """The same service and key always name the same job (the queue's de-duplication does the rest)."""
    if idempotency_key is None:
        return f"act-{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{requested_by}\0{idempotency_key}".encode()).hexdigest()[:32]
    return f"act-{digest}"


def action_delivery(
    issue_id: str, request: ActionRequest, requested_by: str, idempotency_key: str | None
) -> Delivery:
    return Delivery(
        id=action_job_id(requested_by, idempotency_key), resource=API_ACTION, action="requested",
        received_at=time.time(), issue_id=issue_id,
        body={"actions": request.model_dump(mode="json", exclude_defaults=True), "requested_by": requested_by},
    )
