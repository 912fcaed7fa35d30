"""Carry out actions a service asked for through the read/act API (shared/api_actions.py).

The request becomes the same `Plan` a playbook produces (comment first, then the assignment, then
one status change, settled by the planner's priority), and is written back by the same idempotent
`WriteBack`, except that a service's comment is a note of its own: it never replaces the
responder's analysis comment, which is edited in place.
"""

from __future__ import annotations

from shared.api_actions import ActionRequest
from shared.sentry.models import Issue
from worker.actions import Action, AssignAction, CommentAction, Plan
from worker.analysis.base import Finding
from worker.plan import STATUS_PRIORITY, status_actions
from worker.rules import Actions, Ignore, Playbook
from worker.writeback import WriteBack, WriteResult, delivery_of, footer


def requested_plan(request: ActionRequest, requested_by: str) -> Plan:
    rule = f"api:{requested_by}"
    playbook = Playbook(name=rule, actions=Actions(
        resolve=request.resolve, resolve_in_next_release=request.resolve_in_next_release,
        unresolve=request.unresolve,
        ignore=Ignore.model_validate(request.ignore.model_dump()) if request.ignore else None,
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
    """A service's comment is posted as a new note (found again by its footer on a retry)."""

    async def _comment(
        self, action: CommentAction, issue: Issue, delivery_id: str, retried: bool
    ) -> WriteResult:
        if retried:
            for note in await self.client.list_comments(issue.id):
                if delivery_of(note.text) == delivery_id:
                    return WriteResult(kind="comment", ok=True, skipped=True, detail=note.id)
        note = await self.client.add_comment(issue.id, action.body + footer(delivery_id))
        return WriteResult(kind="comment", ok=True, detail=note.id)
