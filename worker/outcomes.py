"""What became of each planned action: the typed record the comment, the job record, the
dashboard (and undo and the audit trail) read.

    done      Sentry accepted the write
    already   the issue was already so; nothing was sent
    refused   Sentry answered 4xx (not 401/429) with a reason, given verbatim; not retried
    skipped   the responder chose not to act (low classification confidence, dry run, a
              fallback replaced it); the detail says why
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from worker.actions import Action, AssignAction, StatusAction


class OutcomeKind(StrEnum):
    DONE = "done"
    ALREADY = "already"
    REFUSED = "refused"
    SKIPPED = "skipped"


class ActionOutcome(BaseModel):
    action: str  # the action's kind: comment, assign, set_status
    description: str  # what was attempted, for people: "assign to team:1", "resolve"
    outcome: OutcomeKind
    detail: str = ""  # Sentry's reason for a refusal, the note id of a comment, why skipped
    rule: str | None = None


def describe(action: Action) -> str:
    if isinstance(action, AssignAction):
        return f"assign to {action.assignee}"
    if isinstance(action, StatusAction):
        if action.status == "resolvedInNextRelease":
            return "resolve in next release"
        if action.status == "ignored":
            details = action.details.model_dump(exclude_none=True) if action.details else {}
            extra = action.substatus or ", ".join(f"{k}={v}" for k, v in details.items())
            return "ignore" + (f" ({extra})" if extra else "")
        return {"resolved": "resolve", "unresolved": "unresolve"}[action.status]
    return action.kind


def outcome_of(action: Action, outcome: OutcomeKind, detail: str = "") -> ActionOutcome:
    rule = action.rule if isinstance(action, AssignAction | StatusAction) else None
    return ActionOutcome(action=action.kind, description=describe(action), outcome=outcome, detail=detail, rule=rule)


_WORDS: dict[OutcomeKind, str] = {
    OutcomeKind.DONE: "done", OutcomeKind.ALREADY: "already so",
    OutcomeKind.REFUSED: "refused by Sentry", OutcomeKind.SKIPPED: "skipped",
}


def outcome_line(result: ActionOutcome) -> str:
    """`assign to team:1: done`, `resolve in next release: refused by Sentry: <Sentry's reason>`."""
    text = f"{result.description}: {_WORDS[result.outcome]}"
    quiet = result.outcome is OutcomeKind.DONE and result.action == "comment"  # the detail is the note id
    return text + (f": {result.detail}" if result.detail and not quiet else "")
