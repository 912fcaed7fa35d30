"""Whether this worker reaches Redis: one warning when it goes away, one when it is back.

Every edge of the worker that talks to Redis (arq's poll loop and job bookkeeping, the heartbeat,
a job's own status writes) reports here instead of logging, so an outage reads as two log lines
rather than a traceback a call, each edge waits with the same backoff, and /readyz can say what
the worker knows (Redis reachable, heartbeat fresh).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import structlog
from redis.exceptions import AuthenticationError, WatchError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger("worker.redis")

# What "Redis went away" looks like from redis-py and the sockets under it (refused, reset,
# timed out, still loading its data after a restart: BusyLoadingError is a ConnectionError).
REDIS_DOWN: tuple[type[BaseException], ...] = (
    RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError,
)
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 5.0
HEARTBEAT_STALE_S = 15.0  # three missed heartbeats


def redis_down(exc: BaseException | None) -> bool:
    """Redis is unreachable (retry later), as opposed to refusing us (a configuration error)."""
    if isinstance(exc, WatchError):
        # redis-py reports a connection lost inside a WATCH (as arq's start_jobs uses) as a
        # WatchError raised while handling the ConnectionError; "Watched variable changed" is not.
        return redis_down(exc.__context__)
    return isinstance(exc, REDIS_DOWN) and not isinstance(exc, AuthenticationError)


def backoff_s(failures: int, rand: random.Random | None = None) -> float:
    """Exponential backoff with jitter, 0.5 s doubling up to 5 s: back within seconds of Redis."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(failures - 1, 0))
    return (rand or random).uniform(ceiling / 2, ceiling)


@dataclass
class RedisHealth:
    lost_at: float | None = None  # wall clock, for the log line and the dashboard
    failures: int = 0
    last_heartbeat: float | None = None  # monotonic time of the last heartbeat Redis took
    outages: list[tuple[float, float]] = field(default_factory=list)  # (lost at, back at), unreported

    @property
    def available(self) -> bool:
        return self.lost_at is None

    def lost(self, exc: BaseException) -> float:
        """Record a failed call; the first one of an outage logs. Returns how long to wait."""
        self.failures += 1
        if self.lost_at is None:
            self.lost_at = time.time()
            log.warning("redis_unavailable", error=type(exc).__name__, detail=str(exc)[:200])
        return backoff_s(self.failures)

    def ok(self) -> None:
        """Record a call that worked; the first one after an outage logs."""
        if self.lost_at is None:
            return
        back_at = time.time()
        log.warning("redis_back", down_s=round(back_at - self.lost_at, 1))
        self.outages.append((self.lost_at, back_at))
        self.lost_at, self.failures = None, 0

    def beat(self) -> None:
        self.last_heartbeat = time.monotonic()
        self.ok()

    def readiness(self, now_monotonic: float | None = None) -> tuple[bool, dict[str, object]]:
        """Ready when Redis answers and the heartbeat is fresh (the event loop is not stuck)."""
        now = time.monotonic() if now_monotonic is None else now_monotonic
        age = None if self.last_heartbeat is None else round(now - self.last_heartbeat, 1)
        fresh = age is not None and age < HEARTBEAT_STALE_S
        ready = self.available and fresh
        return ready, {
            "status": "ready" if ready else "unavailable",
            "redis": self.available,
            "heartbeat_age_s": age,
        }
