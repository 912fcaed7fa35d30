"""Carry out actions a service asked for through the read/act API (shared/api_actions.py).

The request becomes the same `Plan` a playbook produces (comment first, then the assignment, then
one status change, settled by the planner's priority), and is written back by the same idempotent
`WriteBack`, except that a service's comment is a note of its own: it never replaces the
responder's analysis comment, which is edited in place.
"""

from __future__ import annotations

import contextlib

from shared.api_actions import ActionRequest
from shared.sentry.models import Issue
from worker.actions import Action, AssignAction, CommentAction, Plan
from worker.analysis.base import Finding
from worker.outcomes import ActionOutcome, OutcomeKind, outcome_of
from worker.plan import STATUS_PRIORITY, status_actions
from worker.rules import Actions, Ignore, Playbook
from worker.writeback import REFUSALS, WriteBack, footer, outcome_lines, outcomes_section


def requested_plan(request: ActionRequest, requested_by: str) -> Plan:
    rule = f"api:{requested_by}"
    playbook = Playbook(name=rule, actions=Actions(
        resolve=request.resolve, resolve_in_next_release=request.resolve_in_next_release,
        unresolve=request.unresolve,
        ignore=Ignore.model_validate(request.ignore.model_dump()) if request.ignore else None,
        allow_destructive=True,  # the service asked in so many words (and holds a read+act token)
    ))
    status = max(status_actions(playbook), key=lambda s: STATUS_PRIORITY[s.status], default=None)
    actions: list[Action] = []
    if request.comment:
        actions.append(CommentAction(body=request.comment))
    if request.assign:
        actions.append(AssignAction(assignee=request.assign, rule=rule))
    if status is not None:
        actions.append(status)
    return Plan(actions=actions, matched_rules=[rule])


def request_finding(request: ActionRequest, requested_by: str) -> Finding:
    asked = ", ".join(request.model_dump(exclude_defaults=True))
    return Finding(
        handler="api_action", summary=f"{requested_by} asked for: {asked}",
        data={"requested_by": requested_by, "actions": request.model_dump(mode="json", exclude_defaults=True)},
    )


class ServiceWriteBack(WriteBack):
    """A service's comment is posted as a new note (found again by its footer on a retry), and
    the note alone says what this request did (the responder's own comment keeps its record)."""

    async def _comment(
        self, action: CommentAction, issue: Issue, delivery_id: str, retried: bool
    ) -> ActionOutcome:
        if retried and (found := await self._own_note(issue.id, delivery_id)) is not None:
            return outcome_of(action, OutcomeKind.ALREADY, found)
        try:
            note = await self.client.add_comment(issue.id, action.body + footer(delivery_id))
        except REFUSALS as exc:
            return outcome_of(action, OutcomeKind.REFUSED, exc.detail)
        return outcome_of(action, OutcomeKind.DONE, note.id)

    async def _report(
        self, issue: Issue, delivery_id: str, comment: tuple[str, str], outcomes: list[ActionOutcome]
    ) -> None:
        note_id, body = comment
        text = body + outcomes_section(outcome_lines(outcomes)) + footer(delivery_id)
        with contextlib.suppress(*REFUSALS):  # deleted meanwhile: the outcomes stay in the job record
            await self.client.update_comment(issue.id, note_id, text)
