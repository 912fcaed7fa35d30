"""What a finished job leaves behind for people to check: the issue's audit trail entries and the
per-playbook counters the dashboard shows (how often each fired, what it did or would have done)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from pydantic import BaseModel
from redis.asyncio import Redis

from shared import keys
from shared.audit import AuditEntry, append_audit
from shared.jobs import Delivery, JobState
from shared.sentry.redact import redact
from worker.actions import Plan
from worker.analysis.base import Finding
from worker.plan import would_do

SUMMARY_CHARS = 200


def issue_web_url(base_url: str, organization: str | None, issue_id: str, permalink: str | None = None) -> str | None:
    """The issue's page in Sentry: its permalink when Sentry gave one, else the organization's URL."""
    if permalink:
        return permalink
    if not organization:
        return None
    root = base_url.split("/api/0/")[0].rstrip("/")
    return f"{root}/organizations/{organization}/issues/{issue_id}/"


def _outcome(result: BaseModel) -> tuple[str, str, str]:
    """(kind, outcome, detail) of a write-back result: a typed outcome (done, already, refused...)
    when the result carries one, else read from ok/skipped."""
    data = result.model_dump(mode="json")
    kind = str(data.get("kind") or data.get("action") or "")
    if "outcome" in data:
        return kind, str(data["outcome"]), str(data.get("detail") or "")
    outcome = "failed" if not data.get("ok", True) else "already" if data.get("skipped") else "done"
    return kind, outcome, str(data.get("detail") or "")


def trail_entries(
    delivery: Delivery, state: JobState, findings: list[Finding], plan: Plan, writeback: Sequence[BaseModel],
    *, dry_run: bool, reason: str | None, web_url: str | None, coalesced: int = 0,
) -> list[AuditEntry]:
    """The job's entries: its delivery (and how many more it covered), analysis, shadow plans, actions."""
    more = f", and {coalesced} more folded into it" if coalesced else ""
    covered = f" ({delivery.resource}.{delivery.action}{more})"
    entries = [AuditEntry(at=delivery.received_at, kind="delivery", delivery_id=delivery.id,
                          summary=f"delivery received{covered}, job {state.value}" + (f": {reason}" if reason else ""),
                          data={"state": state.value, "web_url": web_url, "coalesced": coalesced})]
    now_s = time.time()
    if findings or plan.matched_rules:
        summaries = {f.handler: redact((f.summary or f.error or "")[:SUMMARY_CHARS]) for f in findings}
        entries.append(AuditEntry(
            at=now_s, kind="analysis", delivery_id=delivery.id,
            summary=f"matched {', '.join(plan.matched_rules) or 'no playbook'}",
            data={"findings": summaries, "matched": plan.matched_rules, "web_url": web_url},
        ))
    for shadow in plan.shadow:
        entries.append(AuditEntry(at=now_s, kind="shadow", delivery_id=delivery.id,
                                  summary=f"shadow playbook {shadow.playbook} would have: {', '.join(shadow.would)}",
                                  data={"playbook": shadow.playbook, "would": shadow.would}))
    if dry_run:
        for action in plan.actions:
            entries.append(AuditEntry(at=now_s, kind="action", delivery_id=delivery.id,
                                      summary=f"{would_do(action)}: planned only (dry run)",
                                      data={"kind": action.kind, "outcome": "planned"}))
    for result in writeback:
        kind, outcome, detail = _outcome(result)
        entries.append(AuditEntry(at=now_s, kind="action", delivery_id=delivery.id,
                                  summary=f"{kind}: {outcome}" + (f" ({detail})" if detail else ""),
                                  data=result.model_dump(mode="json") | {"kind": kind, "outcome": outcome}))
    return entries


async def record_trail(redis: Redis, issue_id: str, entries: list[AuditEntry]) -> None:
    await append_audit(redis, issue_id, entries)


async def count_playbooks(redis: Redis, plan: Plan, executed: bool = True) -> None:
    """Per playbook: fired, and per action what it did (live) or would have done (shadow, or any
    playbook in dry run)."""
    done = "did" if executed else "would"
    now_s = time.time()
    async with redis.pipeline(transaction=False) as pipe:
        for name in plan.matched_rules:
            pipe.hincrby(keys.playbook_stats(name), "fired", 1)
            pipe.hset(keys.playbook_stats(name), mapping={"mode": "live", "last_at": repr(now_s)})
            pipe.zadd(keys.PLAYBOOKS, {name: now_s})
        for action in plan.actions:
            rule = getattr(action, "rule", None)
            if rule:
                pipe.hincrby(keys.playbook_stats(rule), f"{done}:{would_do(action)}", 1)
        for shadow in plan.shadow:
            key = keys.playbook_stats(shadow.playbook)
            pipe.hincrby(key, "fired", 1)
            pipe.hset(key, mapping={"mode": "shadow", "last_at": repr(now_s)})
            pipe.zadd(keys.PLAYBOOKS, {shadow.playbook: now_s})
            for would in shadow.would:
                pipe.hincrby(key, f"would:{would}", 1)
        await pipe.execute()
