"""`seer.root_cause_completed`: Sentry's root cause joins the responder's comment, edited in place.

The root cause is kept per issue (so every later re-analysis still shows it); when the responder
has already commented, that comment is edited with the root-cause section (replacing an earlier
one, so a repeated delivery changes nothing), in one Sentry call. Without a comment yet, nothing
is posted: the next analysis's comment carries it. Never a second comment.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from shared import keys
from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryNotFound
from shared.webhooks import SeerWebhook
from worker.analysis.base import Finding
from worker.analysis.root_cause import root_cause_finding
from worker.comment import ROOT_CAUSE_HEADING, root_cause_section
from worker.outcomes import ActionOutcome, OutcomeKind
from worker.writeback import COMMENT_MEMORY_S

FOOTER_START = "\n\n---\n_Sentry Responder"


def splice(text: str, section: str) -> str:
    """The comment with its root-cause section put (or replaced) right before the footer."""
    body, sep, footer = text.partition(FOOTER_START)
    before, found, _ = body.partition("\n\n" + ROOT_CAUSE_HEADING)
    return (before if found else body).rstrip() + "\n\n" + section + sep + footer


async def root_cause_arrived(
    redis: Redis, envelope: SeerWebhook, client: SentryClient | None, dry_run: bool
) -> tuple[Finding, list[ActionOutcome]]:
    issue_id = str(envelope.data.group_id)
    cause: dict[str, Any] = {**(envelope.data.root_cause or {}), "run_id": envelope.data.run_id}
    await redis.set(keys.issue_root_cause(issue_id), json.dumps(cause), ex=COMMENT_MEMORY_S)
    finding = root_cause_finding(cause)
    stored = await redis.hgetall(keys.issue_comment(issue_id))  # type: ignore[misc]
    note_id, text = stored.get(b"note_id"), stored.get(b"text")
    if client is None or dry_run or note_id is None or text is None:
        return finding, [outcome(OutcomeKind.SKIPPED, "no comment yet: kept for the first one")]
    new_text = splice(text.decode(), root_cause_section(finding))
    try:
        note = await client.update_comment(issue_id, note_id.decode(), new_text)
    except SentryNotFound:  # the comment was deleted: the next analysis posts one with the cause
        return finding, [outcome(OutcomeKind.SKIPPED, "the comment was deleted: kept for the next one")]
    await redis.hset(keys.issue_comment(issue_id), mapping={"text": new_text})  # type: ignore[misc]
    return finding, [outcome(OutcomeKind.DONE, note.id)]


def outcome(kind: OutcomeKind, detail: str) -> ActionOutcome:
    return ActionOutcome(action="comment", description="add Sentry's root cause", outcome=kind, detail=detail)
