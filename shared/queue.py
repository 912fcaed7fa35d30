"""The queue contract between gateway and worker, and the one place that knows arq's key layout.

A delivery is taken in one Lua call that de-duplicates by `Request-ID`, writes the arq job and the
status record together, so the record and the job can never disagree. Concurrent deliveries are
batched into one pipeline round trip (`IntakeBatcher`), which is what lets the gateway go faster
than one Redis round trip per request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arq.constants import job_key_prefix, retry_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis

from shared import keys
from shared.jobs import Delivery, JobState
from shared.jobstore import encode_fields

PROCESS_DELIVERY = "process_delivery"
JOB_EXPIRES_S = 7 * 24 * 3600


def serialize(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def deserialize(raw: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(raw)
    return result


_INTAKE = """
-- KEYS: seen, arq job, arq queue, record, jobs by time, issue active, issue quiet, issue counter
-- ARGV: id, dedup ttl s, job expiry ms, score ms, actionable, job bytes, received s,
--       state prefix, record prefix, active ttl s, reason, record field/value pairs...
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return {0, ''} end
local id = ARGV[1]
local state = 'skipped'
local into = ''
if ARGV[5] == '1' then
  state = 'queued'
  if KEYS[6] ~= '' then
    redis.call('INCR', KEYS[8])
    redis.call('EXPIRE', KEYS[8], 2592000)
    into = redis.call('GET', KEYS[6]) or redis.call('GET', KEYS[7]) or ''
  end
end
if into ~= '' then
  state = 'coalesced'
  redis.call('HINCRBY', ARGV[9] .. into, 'coalesced', 1)
elseif state == 'queued' then
  if KEYS[6] ~= '' then redis.call('SET', KEYS[6], id, 'EX', ARGV[10]) end
  redis.call('PSETEX', KEYS[2], ARGV[3], ARGV[6])
  redis.call('ZADD', KEYS[3], ARGV[4], id)
end
redis.call('HSET', KEYS[4], 'state', state, unpack(ARGV, 12))
if into ~= '' then
  redis.call('HSET', KEYS[4], 'coalesced_into', into, 'reason', 'coalesced into ' .. into)
elseif ARGV[11] ~= '' then
  redis.call('HSET', KEYS[4], 'reason', ARGV[11])
end
redis.call('ZADD', KEYS[5], ARGV[7], id)
redis.call('ZADD', ARGV[8] .. state, ARGV[7], id)
return {1, into}
"""

ACTIVE_TTL_S = 3600


def coalesce_kind(delivery: Delivery) -> str | None:
    """Deliveries of one issue and one kind share a job while it is queued or running."""
    if delivery.issue_id is None or delivery.resource == "installation":
        return None
    return f"{delivery.resource}.{delivery.action}"


@dataclass(frozen=True, slots=True)
class Taken:
    """What intake did with a delivery: new or a duplicate, and the job it was folded into."""

    new: bool
    coalesced_into: str | None = None


@dataclass(frozen=True, slots=True)
class Intake:
    """One verified delivery and what to do with it: queue it, or only record it."""

    delivery: Delivery
    actionable: bool
    reason: str | None = None


class DeliveryQueue:
    def __init__(self, redis: Redis, queue_name: str, dedup_ttl_s: int) -> None:
        self._redis = redis
        self.queue_name = queue_name
        self._dedup_ttl_s = dedup_ttl_s
        self._intake = redis.register_script(_INTAKE)

    def _intake_args(self, item: Intake, now_s: float) -> tuple[list[str], list[Any]]:
        delivery = item.delivery
        record = encode_fields(
            {
                "id": delivery.id,
                "resource": delivery.resource,
                "action": delivery.action,
                "issue_id": delivery.issue_id,
                "received_at": delivery.received_at,
                "updated_at": now_s,
                "payload": delivery.model_dump(mode="json"),
            }
        )
        now_ms = int(now_s * 1000)
        job = serialize_job(
            PROCESS_DELIVERY, (delivery.id,), {}, None, now_ms, serializer=serialize
        )
        kind = coalesce_kind(delivery) if item.actionable else None
        issue_keys = (
            [keys.issue_active(delivery.issue_id, kind), keys.issue_quiet(delivery.issue_id, kind),
             keys.issue_deliveries(delivery.issue_id)]
            if kind is not None and delivery.issue_id is not None
            else ["", "", ""]
        )
        keys_ = [
            keys.seen(delivery.id),
            job_key_prefix + delivery.id,
            self.queue_name,
            keys.job(delivery.id),
            keys.JOBS_BY_TIME,
            *issue_keys,
        ]
        args: list[Any] = [
            delivery.id,
            self._dedup_ttl_s,
            JOB_EXPIRES_S * 1000,
            now_ms,
            "1" if item.actionable else "0",
            job,
            repr(delivery.received_at),
            keys.jobs_in_state(""),
            keys.job(""),
            ACTIVE_TTL_S,
            item.reason or "",
        ]
        args += [part for pair in record.items() for part in pair]
        return keys_, args

    async def submit_many(self, items: Sequence[Intake]) -> list[Taken]:
        """Take many deliveries in one round trip."""
        now_s = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in items:
                keys_, args = self._intake_args(item, now_s)
                await self._intake(keys=keys_, args=args, client=pipe)
            results = await pipe.execute()
        return [
            Taken(new=bool(new), coalesced_into=_text(into) or None) for new, into in results
        ]

    async def requeue(self, delivery_id: str, defer_s: float = 0.0) -> None:
        """Put a delivery's job back on the queue with a fresh try count (replay)."""
        now_ms = int(time.time() * 1000)
        job = serialize_job(PROCESS_DELIVERY, (delivery_id,), {}, None, now_ms, serializer=serialize)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(retry_key_prefix + delivery_id)
            pipe.psetex(job_key_prefix + delivery_id, JOB_EXPIRES_S * 1000, job)
            pipe.zadd(self.queue_name, {delivery_id: now_ms + int(defer_s * 1000)})
            await pipe.execute()

    async def depth(self) -> int:
        return int(await self._redis.zcard(self.queue_name))


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) end
return 1
"""


async def release_issue(redis: Redis, delivery: Delivery, quiet_window_s: float) -> None:
    """A job reached a final state: later deliveries of its kind start a new job, once the quiet
    window (during which they are still folded into this one) has passed."""
    kind = coalesce_kind(delivery)
    if kind is None or delivery.issue_id is None:
        return
    await redis.eval(
        _RELEASE, 2, keys.issue_active(delivery.issue_id, kind),
        keys.issue_quiet(delivery.issue_id, kind), delivery.id, int(quiet_window_s * 1000),
    )  # type: ignore[misc]


class IntakeBatcher:
    """Gather the deliveries of concurrent requests and take them in one pipeline.

    The first caller starts a flush on the next loop turn; callers arriving meanwhile (or while a
    flush is in flight) join the next batch. One Redis round trip then serves many requests.
    """

    def __init__(self, queue: DeliveryQueue, max_batch: int = 256) -> None:
        self._queue = queue
        self._max_batch = max_batch
        self._pending: list[tuple[Intake, asyncio.Future[Taken]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Intake) -> Taken:
        future: asyncio.Future[Taken] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                results = await self._queue.submit_many([item for item, _ in batch])
            except Exception as exc:  # every waiter learns of the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
