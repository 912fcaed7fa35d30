"""The plan: what the worker will write back to Sentry, as data, so dry-run can show it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from shared.sentry.models import IssueStatus, StatusDetails


class CommentAction(BaseModel):
    kind: Literal["comment"] = "comment"
    body: str


class StatusAction(BaseModel):
    kind: Literal["set_status"] = "set_status"
    status: IssueStatus
    details: StatusDetails | None = None
    substatus: Literal["archived_until_escalating", "archived_forever"] | None = None
    rule: str | None = None


class AssignAction(BaseModel):
    kind: Literal["assign"] = "assign"
    assignee: str  # "user:<id>", "team:<id>" or a username / e-mail, as Sentry takes it
    rule: str | None = None


Action = Annotated[CommentAction | StatusAction | AssignAction, Field(discriminator="kind")]


class Held(BaseModel):
    """A destructive action a rule asked for but the evidence did not support; reported, not sent."""

    action: Action
    reason: str


class ShadowPlan(BaseModel):
    """What a shadow playbook that matched would have done; recorded, never executed."""

    playbook: str
    actions: list[Action] = Field(default_factory=list)
    would: list[str] = Field(default_factory=list)  # "resolve", "assign to team:ops", ...


class Plan(BaseModel):
    actions: list[Action] = Field(default_factory=list)
    matched_rules: list[str] = Field(default_factory=list)
    held: list[Held] = Field(default_factory=list)
    shadow: list[ShadowPlan] = Field(default_factory=list)

    def of_kind(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]
