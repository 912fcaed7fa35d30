"""Undo an automated write: put the issue back as it was, unless a person changed it since.

Before each write the responder records the issue's state (status, substatus, statusDetails,
assignee) and what the write leaves it as (`remember_write`). `undo_write` compares what Sentry
shows now with the state after the write: any difference is a person's decision and the undo
answers `Conflict` with what changed, touching nothing. Otherwise it writes the old state back,
says so in the responder's comment (who undid it, when) and records the undo, once: a second undo
is refused.

Undo calls Sentry directly, through the same client and the same shared Redis budget as the worker,
not through the queue: a person is waiting for the answer (restored, or what a human changed), and
it is at most four calls.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from shared import keys
from shared.audit import AuditEntry, append_audit
from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryNotFound
from shared.sentry.models import Assignee, Issue, IssueUpdate, StatusDetails

UNDO_MEMORY_S = 30 * 24 * 3600
CLAIM_S = 60
OWN_WRITE_TTL_S = 300
FOOTER_START = "\n\n---\n_Sentry Responder"
ARCHIVED = ("archived_until_escalating", "archived_forever")
DETAIL_FIELDS = {  # statusDetails as Sentry shows it -> as an update takes it
    "inNextRelease": "in_next_release", "inRelease": "in_release", "ignoreDuration": "ignore_duration",
    "ignoreCount": "ignore_count", "ignoreWindow": "ignore_window", "ignoreUserCount": "ignore_user_count",
    "ignoreUserWindow": "ignore_user_window",
}


class IssueState(BaseModel):
    status: str
    substatus: str | None = None
    status_details: dict[str, Any] = Field(default_factory=dict)
    assignee: str | None = None  # "user:<id>" / "team:<id>", or as the write named it

    @classmethod
    def of(cls, issue: Issue) -> IssueState:
        return cls(status=issue.status, substatus=issue.substatus, status_details=issue.status_details,
                   assignee=assignee_ref(issue.assigned_to))


class UndoRecord(BaseModel):
    write_id: str  # the job (delivery id) or API action that wrote
    issue_id: str
    organization: str | None = None
    installation: str | None = None
    before: IssueState
    after: IssueState
    writes: list[str] = Field(default_factory=list)  # "set_status resolved", "assign team:2"
    recorded_at: float = Field(default_factory=time.time)
    undone_at: float | None = None
    undone_by: str | None = None


def assignee_ref(assignee: Assignee | None) -> str | None:
    return f"{assignee.type}:{assignee.id}" if assignee is not None else None


def same_assignee(wanted: str | None, current: Assignee | None) -> bool:
    """A write names an assignee as "user:1", "team:2", a username or an e-mail; Sentry shows an object."""
    if wanted is None or current is None:
        return wanted is None and current is None
    return wanted in (assignee_ref(current), current.name, current.email, str(current.id))


def changes_since(after: IssueState, current: Issue) -> dict[str, dict[str, Any]]:
    """What differs between the state our write left and the issue now: {field: {ours, now}}."""
    diff: dict[str, dict[str, Any]] = {}
    if current.status != after.status:
        diff["status"] = {"ours": after.status, "now": current.status}
    if after.substatus in ARCHIVED and current.substatus != after.substatus:
        diff["substatus"] = {"ours": after.substatus, "now": current.substatus}
    if not same_assignee(after.assignee, current.assigned_to):
        diff["assignee"] = {"ours": after.assignee, "now": assignee_ref(current.assigned_to)}
    return diff


def same_status(state: IssueState, status: str, substatus: str | None) -> bool:
    """Sentry manages an unresolved issue's substatus itself (new, ongoing, escalating, regressed;
    a PUT of `unresolved` makes it `ongoing`): only an ignore's `archived_*` substatus is ours to
    restore."""
    if status != state.status:
        return False
    return status != "ignored" or substatus == state.substatus


async def load_undo(redis: Redis, write_id: str) -> UndoRecord | None:
    raw = await redis.get(keys.undo(write_id))
    return UndoRecord.model_validate_json(raw) if raw else None


async def save_undo(redis: Redis, record: UndoRecord) -> None:
    await redis.set(keys.undo(record.write_id), record.model_dump_json(), ex=UNDO_MEMORY_S)


async def remember_write(
    redis: Redis, write_id: str, issue: Issue, *, status: str | None = None, substatus: str | None = None,
    assignee: str | None = None, organization: str | None = None, installation: str | None = None,
) -> None:
    """Call just before a status change or assignment: keeps the state before the first write of
    `write_id` and what each write leaves the issue as."""
    record = await load_undo(redis, write_id) or UndoRecord(
        write_id=write_id, issue_id=issue.id, organization=organization, installation=installation,
        before=IssueState.of(issue), after=IssueState.of(issue),
    )
    after = record.after
    if status is not None:
        after.status = "resolved" if status == "resolvedInNextRelease" else status
        after.substatus = substatus
        record.writes.append(f"set_status {status}" + (f" ({substatus})" if substatus else ""))
    if assignee is not None:
        after.assignee = assignee
        record.writes.append(f"assign {assignee}")
    await save_undo(redis, record)


# --- carrying out an undo


class UndoRefused(Exception):
    """The undo cannot go ahead; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, error: str, detail: str, changed: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.changed = status, error, detail, changed or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail} | ({"changed": self.changed} if self.changed else {})


@dataclass
class UndoResult:
    record: UndoRecord
    restored: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None  # the note edited, if there was one


def restore_update(before: IssueState, now_s: float | None = None) -> IssueUpdate:
    """The update that puts the status back. Sentry shows an ignore's end as `ignoreUntil`; it takes
    a duration, so the minutes left are sent (an ignore that has run out becomes unresolved)."""
    details = {DETAIL_FIELDS[k]: v for k, v in before.status_details.items() if k in DETAIL_FIELDS and v}
    status = before.status if before.status in ("resolved", "unresolved", "ignored") else "unresolved"
    if status == "resolved" and details.get("in_next_release"):
        status = "resolvedInNextRelease"
    until = before.status_details.get("ignoreUntil")
    if status == "ignored" and isinstance(until, str) and "ignore_duration" not in details:
        try:
            left_s = datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp() - (now_s or time.time())
        except ValueError:
            left_s = 0.0
        if left_s <= 0:
            return IssueUpdate(status="unresolved")
        details["ignore_duration"] = math.ceil(left_s / 60)
    return IssueUpdate.model_validate({
        "status": status,
        "substatus": before.substatus if before.substatus in ARCHIVED else None,
        "status_details": StatusDetails.model_validate(details) if details else None,
    })


async def undo_write(redis: Redis, client: SentryClient, write_id: str, by: str) -> UndoResult:
    record = await load_undo(redis, write_id)
    if record is None:
        raise UndoRefused(404, "nothing_to_undo", "no automated status change or assignment is recorded for this job")
    if record.undone_at is not None:
        raise UndoRefused(409, "already_undone", f"undone by {record.undone_by} at {_when(record.undone_at)}")
    if not await redis.set(keys.undo_claim(write_id), by, nx=True, ex=CLAIM_S):
        raise UndoRefused(409, "undo_in_progress", "another undo of this job is under way")
    try:
        current = await client.get_issue(record.issue_id)
        changed = changes_since(record.after, current)
        if changed:
            raise UndoRefused(409, "changed_since", "the issue was changed since the responder's write; "
                              "nothing was touched", changed)
        result = UndoResult(record)
        await _mark_own_write(redis, record.issue_id)
        # After each restoring write, `after` is what the issue now is: an undo that fails half-way
        # (Sentry down) can be tried again without taking its own first write for a person's.
        before = record.before
        if not same_status(before, current.status, current.substatus):
            await client.update_issue(record.issue_id, restore_update(before))
            result.restored["status"] = before.status
            record.after.status, record.after.substatus = before.status, before.substatus
            await save_undo(redis, record)
        if not same_assignee(before.assignee, current.assigned_to):
            await client.assign(record.issue_id, before.assignee or "")
            result.restored["assignee"] = before.assignee
            record.after.assignee = before.assignee
            await save_undo(redis, record)
        record.undone_at, record.undone_by = time.time(), by
        await save_undo(redis, record)
        result.comment = await _note_undo(redis, client, record)
        await append_audit(redis, record.issue_id, [AuditEntry(
            kind="undo", actor=by, delivery_id=write_id,
            summary=f"undone by {by}: " + (_describe(result.restored) or "nothing to restore"),
            data={"restored": result.restored, "writes": record.writes},
        )])
        return result
    finally:
        await redis.delete(keys.undo_claim(write_id))


def _describe(restored: dict[str, Any]) -> str:
    return ", ".join(f"{k} back to {v if v is not None else 'nobody'}" for k, v in restored.items())


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(at))


async def _note_undo(redis: Redis, client: SentryClient, record: UndoRecord) -> str | None:
    """Say in the responder's comment that its changes were undone, and by whom."""
    note_id = await redis.hget(keys.issue_comment(record.issue_id), "note_id")  # type: ignore[misc]
    if note_id is None:
        return None
    wanted = note_id.decode()
    note = None
    async for candidate in client.iter_comments(record.issue_id):  # every page: a busy issue has many
        if candidate.id == wanted:
            note = candidate
            break
    if note is None:
        return None
    line = f"\n\n_Undone by {record.undone_by} at {_when(record.undone_at or time.time())}: " \
           f"{', '.join(record.writes)} reverted._"
    text = note.text
    cut = text.find(FOOTER_START)
    text = text + line if cut < 0 else text[:cut] + line + text[cut:]
    try:
        await client.update_comment(record.issue_id, note.id, text)
    except SentryNotFound:
        return None
    return note.id


async def _mark_own_write(redis: Redis, issue_id: str) -> None:
    """The issue.* delivery our undo causes is our own echo; the cached issue is stale."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.own_write(issue_id), "1", ex=OWN_WRITE_TTL_S)
        pipe.delete(keys.cached("issue", issue_id))
        await pipe.execute()
