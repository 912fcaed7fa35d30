"""One Sentry budget for every worker process, kept in Redis.

A sliding window of scheduled call times: each call reserves the earliest slot at which no window
of `window_s` holds more than `limit` calls (slot n is at least `window_s` after slot n - limit),
in one atomic round trip, and is told how long to wait for it. So ten workers together never
exceed the budget, bursts up to the whole budget go out at once, and nobody busy-polls. What
Sentry's own headers say (`X-Sentry-Rate-Limit-Remaining` at 0 until `X-Sentry-Rate-Limit-Reset`)
is shared the same way, so every worker slows down before the 429, not after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis

from shared import keys
from shared.lua import LuaScript

MAX_BLOCK_MS = keys.HOUR_S * 1000  # a reset further off than this is not believed

_ACQUIRE = LuaScript("""
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local slot = now
if n >= limit then
  local kth = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  slot = math.max(slot, tonumber(kth[2]) + window)
end
if n > 0 then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  slot = math.max(slot, tonumber(last[2]))
end
local blocked = tonumber(redis.call('GET', KEYS[2]) or 0)
if blocked > slot then slot = blocked end
local max_wait = tonumber(ARGV[3])
if max_wait >= 0 and slot - now > max_wait then return {slot - now, 0} end
local id = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], slot, id)
redis.call('PEXPIRE', KEYS[1], window + slot - now + 1000)
redis.call('PEXPIRE', KEYS[3], window + slot - now + 1000)
return {slot - now, 1}
""")

_PEEK = LuaScript("""
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if tonumber(redis.call('GET', KEYS[2]) or 0) > now then return 0 end
local used = redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
return math.max(0, tonumber(ARGV[2]) - used)
""")


class BudgetWait(Exception):
    """No room in the budget within the wait the caller accepts: nothing was reserved. A job
    ends its try and comes back after `wait_s` rather than sleeping that long."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"the shared Sentry budget has room in {wait_s:.1f} s")
        self.wait_s = wait_s


class RateLimiter(Protocol):
    async def acquire(self, max_wait_s: float | None = None) -> float:
        """Reserve one call; return the seconds the caller must wait before making it. When that
        would be longer than `max_wait_s`, reserve nothing and raise `BudgetWait`."""

    async def remaining(self) -> int:
        """Calls left in the budget right now (for putting urgent work first)."""

    async def block_until(self, reset_epoch_s: float) -> None:
        """Sentry said the budget is spent until then: everybody waits."""


@dataclass
class RedisRateLimiter:
    redis: Redis
    scope: str
    limit: int
    window_s: float = 60.0

    @property
    def _keys(self) -> list[str]:
        return [keys.rate_limit(self.scope), keys.rate_limit_blocked(self.scope), keys.rate_limit_seq(self.scope)]

    @property
    def _window_and_limit(self) -> list[str]:
        return [str(self.window_s * 1000), str(self.limit)]

    async def acquire(self, max_wait_s: float | None = None) -> float:
        max_wait_ms = -1 if max_wait_s is None else int(max_wait_s * 1000)
        wait_ms, reserved = await _ACQUIRE(self.redis, self._keys, [*self._window_and_limit, str(max_wait_ms)])
        if not reserved:
            raise BudgetWait(float(wait_ms) / 1000)
        return float(wait_ms) / 1000

    async def remaining(self) -> int:
        return int(await _PEEK(self.redis, self._keys, self._window_and_limit))

    async def block_until(self, reset_epoch_s: float) -> None:
        ttl_ms = int((reset_epoch_s - time.time()) * 1000)
        if ttl_ms > 0:
            await self.redis.set(self._keys[1], int(reset_epoch_s * 1000), px=min(ttl_ms, MAX_BLOCK_MS))


@dataclass
class LocalRateLimiter:
    """The same budget for one process, without Redis."""

    limit: int
    window_s: float = 60.0
    _slots: list[float] = field(default_factory=list)
    _blocked_until: float = 0.0

    async def acquire(self, max_wait_s: float | None = None) -> float:
        now = time.time()
        self._slots = [s for s in self._slots if s > now - self.window_s]
        slot = max([now, self._blocked_until, *self._slots[-1:]])
        if len(self._slots) >= self.limit:
            slot = max(slot, self._slots[-self.limit] + self.window_s)
        if max_wait_s is not None and slot - now > max_wait_s:
            raise BudgetWait(slot - now)
        self._slots.append(slot)
        return slot - now

    async def remaining(self) -> int:
        now = time.time()
        if self._blocked_until > now:
            return 0
        return max(0, self.limit - sum(1 for s in self._slots if s > now - self.window_s))

    async def block_until(self, reset_epoch_s: float) -> None:
        self._blocked_until = max(self._blocked_until, reset_epoch_s)


class ConcurrencyGate:
    """At most `limit` requests in flight from this client. Sentry also limits concurrent requests
    per caller and says how many in `X-Sentry-Rate-Limit-ConcurrentLimit`: the gate narrows to that
    (never wider than configured), so the client does not earn a concurrency 429 it could avoid."""

    def __init__(self, limit: int) -> None:
        self.configured = limit
        self.limit = limit
        self.active = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: self.active < self.limit)
            self.active += 1
        try:
            yield
        finally:
            async with self._changed:
                self.active -= 1
                self._changed.notify_all()

    def learn(self, concurrent_limit: int, concurrent_remaining: int | None) -> None:
        """Sentry's numbers for this caller: its limit, and 0 remaining when we are at it."""
        limit = min(self.configured, max(1, concurrent_limit))
        if concurrent_remaining == 0:
            limit = min(limit, max(1, self.active))
        self.limit = limit
BUDGET_POLL_S = 1.0


@dataclass
class BudgetShare:
    """Calls only while more than (1 - share) of the shared budget is left, so live work goes on:
    waits (outside any job: the backtest CLI) until the worker's use drops below that."""

    inner: RateLimiter
    limit: int
    share: float

    async def acquire(self, max_wait_s: float | None = None) -> float:
        keep = self.limit * (1 - self.share)
        while await self.inner.remaining() <= keep:
            await asyncio.sleep(BUDGET_POLL_S)
        return await self.inner.acquire(max_wait_s)

    async def remaining(self) -> int:
        return await self.inner.remaining()

    async def block_until(self, reset_epoch_s: float) -> None:
        await self.inner.block_until(reset_epoch_s)
