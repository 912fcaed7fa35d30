"""The queue contract between gateway and worker, and the one place that knows arq's key layout.

A delivery is taken in one Lua call that de-duplicates by `Request-ID` and by the SHA-256 of the
signed body (a replay under a new, unsigned Request-ID), writes the arq job and the
status record together, so the record and the job can never disagree. Concurrent deliveries are
batched into one pipeline round trip (`IntakeBatcher`), which is what lets the gateway go faster
than one Redis round trip per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix, retry_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from shared import keys
from shared.api_actions import API_ACTION
from shared.jobs import Delivery
from shared.lua import LuaScript
from shared.redis import FAILOVER_RETRIES, RedisConfig, connect_as
from shared.replies import text

PROCESS_DELIVERY = "process_delivery"
JOB_EXPIRES_S = 7 * keys.DAY_S  # arq job data outlives any retry schedule
JOB_EXPIRES_MS = JOB_EXPIRES_S * 1000


def serialize(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def deserialize(raw: bytes) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(raw)
    return result


# One call takes one delivery. Its facts come as one small JSON argument (key names are built
# here from the prefixes in shared/keys.py): packing a few arguments is far cheaper for the
# gateway than packing thirty, and decoding them is cheap for Redis.
_INTAKE = LuaScript(
    """
local m = cjson.decode(ARGV[1])
local id = m.id
if not redis.call('SET', '%(seen)s' .. id, '1', 'NX', 'EX', m.dedup_ttl_s) then return {0, ''} end
-- the same signed body under a new Request-ID (which Sentry does not sign) is a replay
if m.body_sha and not redis.call('SET', '%(seen_body)s' .. m.body_sha, id, 'NX', 'EX', m.dedup_ttl_s) then
  return {0, ''}
end
local state = 'skipped'
local into = ''
local active = ''
local quiet = ''
if m.actionable then
  state = 'queued'
  if m.kind then
    local issue = '%(issue)s' .. m.issue_id
    active = issue .. ':' .. m.kind .. ':active'
    quiet = issue .. ':' .. m.kind .. ':quiet'
    redis.call('INCR', issue .. ':deliveries')
    redis.call('EXPIRE', issue .. ':deliveries', %(deliveries_ttl_s)d)
    into = redis.call('GET', active) or ''
    if into == '' then
      into = redis.call('GET', quiet) or ''
      -- the window is quiet time: a storm still going keeps folding into the finished job
      if into ~= '' and m.quiet_ms then redis.call('PEXPIRE', quiet, m.quiet_ms) end
    end
  end
end
local record = '%(job)s' .. id
if into ~= '' then
  state = 'coalesced'
  redis.call('HINCRBY', '%(job)s' .. into, 'coalesced', 1)
elseif state == 'queued' then
  if active ~= '' then redis.call('SET', active, id, 'EX', m.active_ttl_s) end
  redis.call('PSETEX', '%(arq_job)s' .. id, m.job_expires_ms, ARGV[3])
  redis.call('ZADD', m.queue, m.score_ms, id)
end
redis.call('HSET', record, 'id', id, 'resource', m.resource, 'action', m.action,
  'state', state, 'received_at', m.received_at, 'updated_at', m.updated_at)
if m.issue_id then redis.call('HSET', record, 'issue_id', m.issue_id) end
if m.installation then redis.call('HSET', record, 'installation', m.installation) end
if into ~= '' then
  -- folded into a job that carries the same issue: its payload is not needed (nor kept: in a
  -- storm it would be most of Redis's memory, and it may hold event data)
  redis.call('HSET', record, 'coalesced_into', into, 'reason', 'coalesced into ' .. into)
else
  redis.call('HSET', record, 'payload', ARGV[2])
  if m.reason then redis.call('HSET', record, 'reason', m.reason) end
end
redis.call('ZADD', '%(by_time)s', m.received_at, id)
redis.call('ZADD', '%(state)s' .. state, m.received_at, id)
return {1, into}
"""
    % {
        "seen": keys.seen(""),
        "seen_body": keys.seen_body(""),
        "issue": keys.ISSUE,
        "job": keys.job(""),
        "arq_job": job_key_prefix,
        "by_time": keys.JOBS_BY_TIME,
        "state": keys.jobs_in_state(""),
        "deliveries_ttl_s": keys.ISSUE_MEMORY_S,
    }
)

ACTIVE_TTL_S = keys.HOUR_S


def coalesce_kind(delivery: Delivery) -> str | None:
    """Deliveries of one issue and one kind share a job while it is queued or running."""
    if delivery.issue_id is None or delivery.resource in ("installation", API_ACTION):
        return None  # an action a service asked for is never folded into another job
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
    raw_body: bytes = b""  # the verified body as sent, spliced into the record as it is
    body_sha256: str = ""  # hex SHA-256 of the signed body: de-duplicates replays (empty: none)


class NotReplicated(RedisError):
    """Fewer replicas than required confirmed an intake write in time (WAIT): not yet durable."""

    def __init__(self, confirmed: int, required: int) -> None:
        super().__init__(f"{confirmed} of {required} replicas confirmed the write in time")
        self.confirmed, self.required = confirmed, required


class DeliveryQueue:
    def __init__(
        self, redis: Redis, queue_name: str, dedup_ttl_s: int,
        min_replicas: int = 0, replica_timeout_s: float = 0.2, quiet_window_s: float = 0.0,
    ) -> None:
        self._redis = redis
        # Each delivery folded into a finished job restarts its quiet window: on a slow machine a
        # storm outlasted the window and started a second analysis of the same issue mid-storm.
        self._quiet_ms = int(quiet_window_s * 1000) or None
        self.queue_name = queue_name
        self._dedup_ttl_s = dedup_ttl_s
        self._min_replicas = min_replicas
        self._intake_loaded = False  # loaded before the first batch, so no batch half-fails on NOSCRIPT
        self._replica_timeout_ms = max(1, int(replica_timeout_s * 1000))  # WAIT 0 would block forever

    def _intake_args(self, item: Intake, now_s: float) -> list[bytes | str]:
        delivery = item.delivery
        now_ms = int(now_s * 1000)
        kind = coalesce_kind(delivery) if item.actionable else None
        meta = {
            "id": delivery.id,
            "resource": delivery.resource,
            "action": delivery.action,
            "issue_id": delivery.issue_id,
            "installation": delivery.installation_uuid,
            "received_at": repr(delivery.received_at),
            "updated_at": repr(now_s),
            "actionable": item.actionable,
            "reason": item.reason,
            "kind": kind,
            "queue": self.queue_name,
            "dedup_ttl_s": self._dedup_ttl_s,
            "body_sha": item.body_sha256 or None,
            "job_expires_ms": JOB_EXPIRES_MS,
            "score_ms": now_ms,
            "active_ttl_s": ACTIVE_TTL_S,
            "quiet_ms": self._quiet_ms,
        }
        job = serialize_job(PROCESS_DELIVERY, (delivery.id,), {}, None, now_ms, serializer=serialize)
        present = {name: value for name, value in meta.items() if value is not None}  # no cjson.null
        return [orjson.dumps(present), delivery.to_json(item.raw_body), job]

    async def submit_many(self, items: Sequence[Intake]) -> list[Taken]:
        """Take many deliveries in one round trip."""
        now_s = time.time()
        calls = [self._intake_args(item, now_s) for item in items]
        try:
            results = await self._run_intake(calls)
        except NoScriptError:  # Redis restarted and forgot the script: load it again, once
            await _INTAKE.load(self._redis)
            results = await self._run_intake(calls)
        return [
            Taken(new=bool(new), coalesced_into=text(into) or None) for new, into in results
        ]

    async def _run_intake(self, calls: list[list[bytes | str]]) -> list[Any]:
        # EVALSHA straight into the pipeline (shared/lua.py): redis-py's Script objects would add
        # a SCRIPT EXISTS round trip to every batch.
        if not self._intake_loaded:
            await _INTAKE.load(self._redis)
            self._intake_loaded = True
        async with self._redis.pipeline(transaction=False) as pipe:
            for args in calls:
                _INTAKE.queue(pipe, (), args)
            if self._min_replicas:
                self._wait_for_replicas(pipe)
            results: list[Any] = await pipe.execute()
        if self._min_replicas:
            confirmed = int(results.pop())
            results.pop()  # the mark's counter
            if confirmed < self._min_replicas:
                raise NotReplicated(confirmed, self._min_replicas)
        return results

    def _wait_for_replicas(self, pipe: Any) -> None:
        """Asynchronous replication loses what a dying primary had not passed on, so a 2xx waits
        for `min_replicas` to confirm. WAIT counts this connection's writes only, and a duplicate
        (or a spooled delivery drained after its first write went through elsewhere) writes
        nothing: the mark is a write on this connection that comes after all of them in the
        replication stream, so once replicas have it they have the deliveries too."""
        pipe.incr(keys.REPLICATION_MARK)
        pipe.execute_command("WAIT", self._min_replicas, self._replica_timeout_ms)

    async def requeue(self, delivery_id: str, defer_s: float = 0.0) -> None:
        """Put a delivery's job back on the queue with a fresh try count (replay)."""
        now_ms = int(time.time() * 1000)
        job = serialize_job(PROCESS_DELIVERY, (delivery_id,), {}, None, now_ms, serializer=serialize)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(retry_key_prefix + delivery_id)
            pipe.psetex(job_key_prefix + delivery_id, JOB_EXPIRES_MS, job)
            pipe.zadd(self.queue_name, {delivery_id: now_ms + int(defer_s * 1000)})
            await pipe.execute()

    async def forgive_try(self, delivery_id: str) -> None:
        """This run was not a failed try (it only waited, for budget): take it off the count."""
        await self._redis.decr(retry_key_prefix + delivery_id)

    async def depth(self) -> int:
        return int(await self._redis.zcard(self.queue_name))


_RELEASE = LuaScript("""
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) end
return 1
""")


async def release_issue(redis: Redis, delivery: Delivery, quiet_window_s: float) -> None:
    """A job reached a final state: later deliveries of its kind start a new job, once the quiet
    window (during which they are still folded into this one) has passed."""
    kind = coalesce_kind(delivery)
    if kind is None or delivery.issue_id is None:
        return
    await _RELEASE(
        redis, [keys.issue_active(delivery.issue_id, kind), keys.issue_quiet(delivery.issue_id, kind)],
        [delivery.id, str(int(quiet_window_s * 1000))],
    )


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


class _MaskedRedisSettings(RedisSettings):
    """arq's settings print every field, the password included; these print it masked."""

    def __repr__(self) -> str:
        return super().__repr__().replace(repr(self.password), "'***'") if self.password else super().__repr__()


def arq_settings(config: RedisConfig) -> RedisSettings:
    """arq's own connection settings from the project's parsed Redis config (for arq tooling;
    the worker takes its pool from `arq_pool`, which arq's Sentinel path cannot match: it passes
    neither timeouts, retries, CA files nor a sentinel password)."""
    tls = config.tls
    host: str | list[tuple[str, int]] = list(config.hosts) if config.sentinel_master else config.hosts[0][0]
    return _MaskedRedisSettings(
        host=host, port=config.hosts[0][1], unix_socket_path=config.unix_socket_path,
        database=config.db, username=config.username,
        password=config.password.get_secret_value() if config.password else None,
        ssl=tls is not None, ssl_ca_certs=tls.ca_file if tls else None,
        ssl_certfile=tls.cert_file if tls else None, ssl_keyfile=tls.key_file if tls else None,
        ssl_check_hostname=tls.check_hostname if tls else False,
        sentinel=config.sentinel_master is not None, sentinel_master=config.sentinel_master or "mymaster",
    )


def arq_pool(config: RedisConfig, queue_name: str) -> ArqRedis:
    """The worker's pool: arq's client class, connected by the one factory (TLS, ACL, Sentinel)."""
    pool = connect_as(ArqRedis, config, retries=FAILOVER_RETRIES)
    pool.job_serializer = serialize
    pool.job_deserializer = deserialize
    pool.default_queue_name = queue_name
    pool.expires_extra_ms = JOB_EXPIRES_MS
    return pool

