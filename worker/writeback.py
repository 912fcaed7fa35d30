"""Carry out a plan against Sentry, idempotently: a job run twice never writes twice.

Each comment ends with a footer naming the delivery, so the responder recognises its own notes.
A write is recorded in Redis right after Sentry accepts it; a retried job that finds no record
(it crashed between the two) looks for its footer among the issue's notes before posting again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel
from redis.asyncio import Redis

from shared import keys
from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryNotFound
from shared.sentry.models import Issue, IssueUpdate
from shared.undo import remember_write
from worker.actions import Action, AssignAction, CommentAction, Plan, StatusAction

FOOTER_RE = re.compile(r"Sentry Responder · .*delivery `([A-Za-z0-9_-]+)`")
OWN_WRITE_TTL_S = 300
COMMENT_MEMORY_S = 30 * 24 * 3600


def footer(delivery_id: str, covered: int = 1) -> str:
    covers = f"covers {covered} deliveries · " if covered > 1 else ""
    return f"\n\n---\n_Sentry Responder · {covers}delivery `{delivery_id}`_"


def delivery_of(note_text: str) -> str | None:
    match = FOOTER_RE.search(note_text)
    return match.group(1) if match else None


class WriteResult(BaseModel):
    kind: str
    ok: bool
    skipped: bool = False
    detail: str = ""


@dataclass
class WriteBack:
    client: SentryClient
    redis: Redis
    dedup_ttl_s: int
    installation: str | None = None  # kept with the undo record, to undo through the same installation
    write_id: str = ""  # the delivery being written back (undo records are kept under it)

    async def execute(
        self, plan: Plan, issue: Issue, delivery_id: str, retried: bool
    ) -> list[WriteResult]:
        self.write_id = delivery_id
        results: list[WriteResult] = []
        for action in plan.actions:
            results.append(await self._one(action, issue, delivery_id, retried))
        return results

    async def _one(
        self, action: Action, issue: Issue, delivery_id: str, retried: bool
    ) -> WriteResult:
        done_key = f"{keys.PREFIX}done:{delivery_id}:{action.kind}"
        if await self.redis.exists(done_key):
            return WriteResult(kind=action.kind, ok=True, skipped=True, detail="already done")
        if isinstance(action, CommentAction):
            result = await self._comment(action, issue, delivery_id, retried)
        elif isinstance(action, StatusAction):
            result = await self._status(action, issue)
        else:
            result = await self._assign(action, issue)
        if result.ok:
            await self.redis.set(done_key, result.detail or "1", ex=self.dedup_ttl_s)
        return result

    async def _comment(
        self, action: CommentAction, issue: Issue, delivery_id: str, retried: bool
    ) -> WriteResult:
        if retried:
            for note in await self.client.list_comments(issue.id):
                if delivery_of(note.text) == delivery_id:
                    return WriteResult(kind="comment", ok=True, skipped=True, detail=note.id)
        covered = int(await self.redis.get(keys.issue_deliveries(issue.id)) or 1)
        text = action.body + footer(delivery_id, covered)
        note_id = await self.redis.hget(keys.issue_comment(issue.id), "note_id")  # type: ignore[misc]
        if note_id is not None:
            # One comment per issue that stays current: edit it rather than add another.
            try:
                note = await self.client.update_comment(issue.id, note_id.decode(), text)
                await self.redis.hset(keys.issue_comment(issue.id), mapping={"text": text})  # type: ignore[misc]
                return WriteResult(kind="comment", ok=True, detail=f"edited {note.id}")
            except SentryNotFound:
                pass  # someone deleted it: post a new one
        note = await self.client.add_comment(issue.id, text)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.issue_comment(issue.id), mapping={"note_id": note.id, "text": text})
            pipe.expire(keys.issue_comment(issue.id), COMMENT_MEMORY_S)
            await pipe.execute()
        return WriteResult(kind="comment", ok=True, detail=note.id)

    async def _status(self, action: StatusAction, issue: Issue) -> WriteResult:
        if issue.status == action.status and (
            action.substatus is None or issue.substatus == action.substatus
        ):
            return WriteResult(kind="set_status", ok=True, skipped=True, detail=f"already {issue.status}")
        update = IssueUpdate(
            status=action.status, status_details=action.details, substatus=action.substatus
        )
        await self._before_write(issue, update)
        await self.client.update_issue(issue.id, update)
        return WriteResult(kind="set_status", ok=True, detail=action.status)

    async def _assign(self, action: AssignAction, issue: Issue) -> WriteResult:
        current = issue.assigned_to
        if current is not None and action.assignee in (
            f"{current.type}:{current.id}", current.name, current.email
        ):
            return WriteResult(kind="assign", ok=True, skipped=True, detail="already assigned")
        await self._before_write(issue, IssueUpdate(assigned_to=action.assignee))
        await self.client.assign(issue.id, action.assignee)
        return WriteResult(kind="assign", ok=True, detail=action.assignee)

    async def _before_write(self, issue: Issue, update: IssueUpdate) -> None:
        """Keep the issue's state before the write, so the write can be undone (shared/undo.py)."""
        await remember_write(
            self.redis, self.write_id, issue, status=update.status, substatus=update.substatus,
            assignee=update.assigned_to, organization=self.client.organization, installation=self.installation,
        )
        await self._mark_own_write(issue.id)

    async def _mark_own_write(self, issue_id: str) -> None:
        """Remember that the next issue.* delivery for this issue may be our own echo, and that
        the cached copy of the issue is stale."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.own_write(issue_id), "1", ex=OWN_WRITE_TTL_S)
            pipe.delete(keys.cached("issue", issue_id))
            await pipe.execute()
