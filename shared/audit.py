"""The audit trail of one Sentry issue: every delivery, analysis, action (with its outcome) and undo,
in time order, in one Redis sorted set per issue (shared/keys.py `issue_audit`).

Anything that acts on an issue appends here with `append_audit` (the worker, undo, the actions API).
The trail is capped (`MAX_ENTRIES`, oldest dropped) and expires `AUDIT_MEMORY_S` after its last entry.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from shared import keys

AuditKind = Literal["delivery", "analysis", "action", "shadow", "undo"]
MAX_ENTRIES = 1000
AUDIT_MEMORY_S = 30 * 24 * 3600


class AuditEntry(BaseModel):
    at: float = Field(default_factory=time.time)
    kind: AuditKind
    summary: str
    delivery_id: str | None = None  # the job it came from, when it came from one
    actor: str = "responder"  # "responder", "dashboard", "cli", "api"...
    data: dict[str, Any] = Field(default_factory=dict)
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])


async def append_audit(redis: Redis, issue_id: str, entries: Iterable[AuditEntry]) -> None:
    """Add entries to the issue's trail in one round trip."""
    batch = {json.dumps(e.model_dump(mode="json"), separators=(",", ":"), default=str): e.at for e in entries}
    if not batch:
        return
    key = keys.issue_audit(issue_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(key, batch)
        pipe.zremrangebyrank(key, 0, -MAX_ENTRIES - 1)
        pipe.expire(key, AUDIT_MEMORY_S)
        await pipe.execute()


async def read_audit(redis: Redis, issue_id: str, limit: int = MAX_ENTRIES) -> list[AuditEntry]:
    """The trail, oldest first (ties keep insertion's lexical order)."""
    rows = await redis.zrange(keys.issue_audit(issue_id), -limit, -1)
    return [AuditEntry.model_validate_json(r) for r in rows]
