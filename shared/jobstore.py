"""The job status store in Redis: one hash per delivery, indexed by time and by state.

It is the single source the dashboard, the jobs API and the CLI read. Every state change goes
through one Lua script so a record is never in two state indexes at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from shared import keys
from shared.jobs import JobRecord, JobState


class RawJSON(str):
    """Text that is already JSON: stored as it is."""


JSON_FIELDS = frozenset({"findings", "plan", "writeback", "payload", "dry_run", "shadow"})

_TRANSITION = """
local old = redis.call('HGET', KEYS[1], 'state')
if not old then return 0 end
if old ~= ARGV[1] then
  redis.call('ZREM', ARGV[3] .. old, ARGV[4])
end
redis.call('ZADD', ARGV[3] .. ARGV[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updated_at', ARGV[2], unpack(ARGV, 5))
return 1
"""

_TRIM = """
local victims = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
  for _, id in ipairs(oldest) do table.insert(victims, id) end
end
for _, id in ipairs(victims) do
  local key = ARGV[3] .. id
  local state = redis.call('HGET', key, 'state')
  if state then redis.call('ZREM', ARGV[4] .. state, id) end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return #victims
"""


def encode_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """Flatten record fields into hash values: JSON for structures, text for the rest."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, RawJSON):
            out[name] = value
        elif name in JSON_FIELDS or isinstance(value, list | dict | bool):
            out[name] = json.dumps(value, separators=(",", ":"), default=str)
        else:
            out[name] = str(value)
    return out


def decode_record(raw: Mapping[bytes | str, bytes | str]) -> JobRecord:
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else key
        text = value.decode() if isinstance(value, bytes) else value
        fields[name] = json.loads(text) if name in JSON_FIELDS else text
    return JobRecord.model_validate(fields)


def _flat(fields: Mapping[str, str]) -> list[str]:
    return [part for pair in fields.items() for part in pair]


class JobStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._transition = redis.register_script(_TRANSITION)
        self._trim = redis.register_script(_TRIM)

    async def get(self, delivery_id: str) -> JobRecord | None:
        raw = await self._redis.hgetall(keys.job(delivery_id))  # type: ignore[misc]
        return decode_record(raw) if raw else None

    async def get_many(self, delivery_ids: Iterable[str]) -> list[JobRecord]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for delivery_id in delivery_ids:
                pipe.hgetall(keys.job(delivery_id))
            rows = await pipe.execute()
        return [decode_record(row) for row in rows if row]

    async def transition(
        self, delivery_id: str, state: JobState, now_s: float | None = None, **fields: Any
    ) -> bool:
        """Move a record to `state`, updating `fields`; False if the record is gone."""
        now_s = time.time() if now_s is None else now_s
        args = [state.value, repr(now_s), keys.jobs_in_state(""), delivery_id]
        args += _flat(encode_fields(fields))
        return bool(await self._transition(keys=[keys.job(delivery_id)], args=args))

    async def update(self, delivery_id: str, **fields: Any) -> None:
        """Set fields without changing state (progress notes, coalesced counts)."""
        encoded = encode_fields(fields)
        if encoded:
            await self._redis.hset(keys.job(delivery_id), mapping=encoded)  # type: ignore[misc]

    async def increment(self, delivery_id: str, field: str, by: int = 1) -> int:
        return int(await self._redis.hincrby(keys.job(delivery_id), field, by))  # type: ignore[misc]

    async def recent(
        self, limit: int = 50, state: JobState | None = None, before_s: float | None = None
    ) -> list[JobRecord]:
        index = keys.jobs_in_state(state.value) if state else keys.JOBS_BY_TIME
        high: float | str = "+inf" if before_s is None else f"({before_s!r}"
        ids = await self._redis.zrevrangebyscore(index, high, "-inf", start=0, num=limit)
        return await self.get_many(i.decode() if isinstance(i, bytes) else i for i in ids)

    async def scan(
        self, state: JobState | None, high: tuple[float, str] | None, count: int
    ) -> list[tuple[float, str]]:
        """(score, id) newest first from the time index (or a state's index), strictly after the cursor
        `high` = (score, id) of the last item a caller saw; ties on score are ordered by id."""
        index = keys.jobs_in_state(state.value) if state else keys.JOBS_BY_TIME
        top: float | str = "+inf" if high is None else repr(high[0])
        out: list[tuple[float, str]] = []
        offset = 0
        while len(out) < count:
            rows = await self._redis.zrevrangebyscore(
                index, top, "-inf", start=offset, num=count, withscores=True
            )
            if not rows:
                break
            offset += len(rows)
            for member, score in rows:
                ident = member.decode() if isinstance(member, bytes) else member
                if high is not None and score == high[0] and ident >= high[1]:
                    continue  # seen already: same instant, at or before the cursor
                out.append((float(score), ident))
        return out[:count]

    async def fields_of(self, delivery_ids: Iterable[str], names: Sequence[str]) -> list[dict[str, str]]:
        """A few fields of many records in one round trip (the payload is large; lists skip it)."""
        ids = list(delivery_ids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hmget(keys.job(delivery_id), list(names))
            rows = await pipe.execute()
        out = []
        for delivery_id, values in zip(ids, rows, strict=True):
            if values[0] is None and all(v is None for v in values):
                continue  # trimmed meanwhile
            fields = {n: (v.decode() if isinstance(v, bytes) else v) for n, v in zip(names, values, strict=True)}
            out.append({"id": delivery_id, **{n: v for n, v in fields.items() if v is not None}})
        return out

    async def count_by_state(self) -> dict[str, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for state in JobState:
                pipe.zcard(keys.jobs_in_state(state.value))
            counts = await pipe.execute()
        return {state.value: int(n) for state, n in zip(JobState, counts, strict=True)}

    async def trim(self, max_count: int, max_age_s: float, now_s: float | None = None) -> int:
        """Drop the oldest records beyond the retention count or age; returns how many went."""
        now_s = time.time() if now_s is None else now_s
        args: list[str | int] = [repr(now_s - max_age_s), max_count, keys.job(""), keys.jobs_in_state("")]
        return int(await self._trim(keys=[keys.JOBS_BY_TIME, keys.DEAD_LETTER], args=args))

    # --- dead letters

    async def add_dead(self, delivery_id: str, now_s: float | None = None) -> None:
        now_s = time.time() if now_s is None else now_s
        await self._redis.zadd(keys.DEAD_LETTER, {delivery_id: now_s})

    async def remove_dead(self, delivery_id: str) -> None:
        await self._redis.zrem(keys.DEAD_LETTER, delivery_id)

    async def dead_ids(self, limit: int = 1000) -> list[str]:
        ids = await self._redis.zrevrange(keys.DEAD_LETTER, 0, limit - 1)
        return [i.decode() if isinstance(i, bytes) else i for i in ids]
