"""Carry out a plan against Sentry, idempotently: a job run twice never writes twice.

Each comment ends with a footer naming the delivery, so the responder recognises its own notes.
A write's outcome is recorded in Redis right after Sentry answers; a retried job that finds no
record (it crashed between the two) looks for its footer among all the issue's notes (every
page) before posting again. The comment goes first, so it is on the issue before anybody is
notified of a change; once the other actions ran it is edited once to say what became of each
(worker/outcomes.py). A write Sentry refuses (4xx other than 401 and 429) is such an outcome,
with Sentry's reason, not an error: retrying cannot change Sentry's mind.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis

from shared import keys
from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryClientError, SentryError, SentryForbidden, SentryNotFound
from shared.sentry.models import Issue, IssueUpdate
from shared.undo import load_undo, remember_write, save_undo
from worker.actions import Action, AssignAction, CommentAction, Plan, StatusAction
from worker.markdown import md
from worker.outcomes import ActionOutcome, OutcomeKind, outcome_line, outcome_of

log = structlog.get_logger("worker.writeback")
FOOTER_RE = re.compile(r"Sentry Responder · .*delivery `([A-Za-z0-9_-]+)`")
OWN_WRITE_TTL_S = 300
COMMENT_MEMORY_S = 30 * 24 * 3600
REFUSALS = (SentryClientError, SentryForbidden, SentryNotFound)
NO_RELEASE = "No release data present"
FALLBACK = "instead of resolve in next release: the project has no release to resolve in (Sentry: {})"


def footer(delivery_id: str, covered: int = 1) -> str:
    covers = f"covers {covered} deliveries · " if covered > 1 else ""
    return f"\n\n---\n_Sentry Responder · {covers}delivery `{delivery_id}`_"


def delivery_of(note_text: str) -> str | None:
    match = FOOTER_RE.search(note_text)
    return match.group(1) if match else None


def outcome_lines(outcomes: list[ActionOutcome]) -> list[str]:
    return [md(outcome_line(o)) for o in outcomes]


def outcomes_section(lines: list[str]) -> str:
    if not lines:
        return ""
    items = "\n".join(f"- {line}" for line in lines)
    return f"\n\n**Actions taken:**\n{items}"


def already_so(action: StatusAction, issue: Issue) -> bool:
    """Compared with the shape Sentry stores: `resolvedInNextRelease` is `resolved` with
    `statusDetails.inNextRelease`; an ignore is `ignored` with an `archived_*` substatus."""
    if action.status == "resolvedInNextRelease":
        return issue.status == "resolved" and bool(issue.status_details.get("inNextRelease"))
    if action.substatus is not None and issue.substatus != action.substatus:
        return False
    return issue.status == action.status


def already_assigned(assignee: str, issue: Issue) -> bool:
    current = issue.assigned_to
    if current is None:
        return False
    forms = {f"{current.type}:{current.id}", current.name, current.email}
    if current.type == "user":
        forms.add(str(current.id))
    return assignee in forms


@dataclass
class WriteBack:
    client: SentryClient
    redis: Redis
    dedup_ttl_s: int
    installation: str | None = None  # kept with the undo record, to undo through the same installation
    write_id: str = ""  # the delivery being written back (undo records are kept under it)

    async def execute(
        self, plan: Plan, issue: Issue, delivery_id: str, retried: bool
    ) -> list[ActionOutcome]:
        self.write_id = delivery_id
        results: list[ActionOutcome] = []
        comment: tuple[str, str] | None = None  # (note id, text) of the comment posted
        for action in plan.actions:
            result = await self._once(action, issue, delivery_id, retried)
            results.append(result)
            if isinstance(action, CommentAction) and result.outcome in (OutcomeKind.DONE, OutcomeKind.ALREADY):
                comment = (result.detail, action.body)
        results += [outcome_of(h.action, OutcomeKind.SKIPPED, h.reason) for h in plan.held]
        others = [r for r in results if r.action != "comment"]
        if comment is not None and others:
            await self._report(issue, delivery_id, comment, others)
        return results

    async def _once(self, action: Action, issue: Issue, delivery_id: str, retried: bool) -> ActionOutcome:
        done_key = f"{keys.PREFIX}done:{delivery_id}:{action.kind}"
        recorded = await self.redis.get(done_key)
        if recorded is not None:
            return ActionOutcome.model_validate_json(recorded)
        if isinstance(action, CommentAction):
            result = await self._comment(action, issue, delivery_id, retried)
        elif isinstance(action, StatusAction):
            result = await self._status(action, issue)
        else:
            result = await self._assign(action, issue)
        await self.redis.set(done_key, result.model_dump_json(), ex=self.dedup_ttl_s)
        return result

    async def _report(
        self, issue: Issue, delivery_id: str, comment: tuple[str, str], outcomes: list[ActionOutcome]
    ) -> None:
        """The one edit that turns the comment into a record of what was done."""
        note_id, body = comment
        lines = list(dict.fromkeys([*await self._earlier_lines(issue.id), *outcome_lines(outcomes)]))
        covered = int(await self.redis.get(keys.issue_deliveries(issue.id)) or 1)
        text = body + outcomes_section(lines) + footer(delivery_id, covered)
        try:
            await self.client.update_comment(issue.id, note_id, text)
        except REFUSALS as exc:  # deleted meanwhile: the outcomes stay in the job record
            log.warning("comment_report_refused", issue_id=issue.id, detail=exc.detail)
            return
        await self.redis.hset(keys.issue_comment(issue.id), mapping={"actions": json.dumps(lines), "text": text})  # type: ignore[misc]

    async def _remember_text(self, issue_id: str, text: str) -> None:
        """The comment as it stands: Seer's root cause is spliced into it (worker/seer.py)."""
        await self.redis.hset(keys.issue_comment(issue_id), mapping={"text": text})  # type: ignore[misc]

    async def _earlier_lines(self, issue_id: str) -> list[str]:
        """What earlier deliveries did to this issue: the comment stays current, and keeps saying it."""
        raw = await self.redis.hget(keys.issue_comment(issue_id), "actions")  # type: ignore[misc]
        lines: list[str] = json.loads(raw) if raw else []
        return lines

    async def _own_note(self, issue_id: str, delivery_id: str) -> str | None:
        async for note in self.client.iter_comments(issue_id):
            if delivery_of(note.text) == delivery_id:
                return note.id
        return None

    async def _comment(
        self, action: CommentAction, issue: Issue, delivery_id: str, retried: bool
    ) -> ActionOutcome:
        if retried and (found := await self._own_note(issue.id, delivery_id)) is not None:
            return outcome_of(action, OutcomeKind.ALREADY, found)
        covered = int(await self.redis.get(keys.issue_deliveries(issue.id)) or 1)
        note_id = await self.redis.hget(keys.issue_comment(issue.id), "note_id")  # type: ignore[misc]
        earlier = outcomes_section(await self._earlier_lines(issue.id)) if note_id is not None else ""
        text = action.body + earlier + footer(delivery_id, covered)
        try:
            if note_id is not None:
                # One comment per issue that stays current: edit it rather than add another.
                try:
                    note = await self.client.update_comment(issue.id, note_id.decode(), text)
                    await self._remember_text(issue.id, text)
                    return outcome_of(action, OutcomeKind.DONE, note.id)
                except SentryNotFound:
                    pass  # someone deleted it: post a new one
            note = await self.client.add_comment(issue.id, text)
        except REFUSALS as exc:
            return outcome_of(action, OutcomeKind.REFUSED, exc.detail)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.issue_comment(issue.id), mapping={"note_id": note.id, "text": text})
            pipe.expire(keys.issue_comment(issue.id), COMMENT_MEMORY_S)
            await pipe.execute()
        return outcome_of(action, OutcomeKind.DONE, note.id)

    async def _status(self, action: StatusAction, issue: Issue) -> ActionOutcome:
        if already_so(action, issue):
            return outcome_of(action, OutcomeKind.ALREADY)
        update = IssueUpdate(status=action.status, status_details=action.details, substatus=action.substatus)
        try:
            await self._write(issue, update)
        except REFUSALS as exc:
            if action.status == "resolvedInNextRelease" and NO_RELEASE in exc.detail:
                return await self._resolve_instead(action, issue, exc)
            return outcome_of(action, OutcomeKind.REFUSED, exc.detail)
        return outcome_of(action, OutcomeKind.DONE)

    async def _resolve_instead(self, action: StatusAction, issue: Issue, refusal: SentryError) -> ActionOutcome:
        """Sentry cannot resolve in the next release of a project without releases: resolve now,
        which is what the rule wanted short of the release, and say so."""
        fallback = StatusAction(status="resolved", rule=action.rule)
        if issue.status == "resolved":
            return outcome_of(fallback, OutcomeKind.ALREADY)
        try:
            await self._write(issue, IssueUpdate(status="resolved"))
        except REFUSALS as exc:
            return outcome_of(fallback, OutcomeKind.REFUSED, exc.detail)
        return outcome_of(fallback, OutcomeKind.DONE, FALLBACK.format(refusal.detail))

    async def _assign(self, action: AssignAction, issue: Issue) -> ActionOutcome:
        if already_assigned(action.assignee, issue):
            return outcome_of(action, OutcomeKind.ALREADY)
        try:
            await self._write(issue, IssueUpdate(assigned_to=action.assignee))
        except REFUSALS as exc:
            return outcome_of(action, OutcomeKind.REFUSED, exc.detail)
        return outcome_of(action, OutcomeKind.DONE)

    async def _write(self, issue: Issue, update: IssueUpdate) -> None:
        earlier = await load_undo(self.redis, self.write_id)
        await self._before_write(issue, update)
        try:
            await self.client.update_issue(issue.id, update)
        except REFUSALS:
            # Sentry changed nothing: there is nothing of this write to undo.
            if earlier is None:
                await self.redis.delete(keys.undo(self.write_id))
            else:
                await save_undo(self.redis, earlier)
            raise

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
