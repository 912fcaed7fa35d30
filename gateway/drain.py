"""The gateway's background task: watch Redis, and move spooled deliveries into the queue, oldest
first, as soon as Redis is back. De-duplication by Request-ID still holds there: a delivery
spooled and also redelivered becomes one job."""

from __future__ import annotations

import asyncio

import structlog
from redis.exceptions import RedisError

from gateway.health import redis_reachable
from gateway.spool import Spool
from gateway.state import GatewayState
from shared.queue import DeliveryQueue

log = structlog.get_logger("gateway.drain")

BATCH = 100
IDLE_S = 0.25


async def drain_once(spool: Spool, queue: DeliveryQueue) -> int:
    """Move one batch into the queue; returns how many files it took off the spool."""
    batch = await asyncio.to_thread(spool.claim, BATCH)
    if not batch:
        return 0
    try:
        await queue.submit_many([item.intake for item in batch])
    except BaseException:
        for item in batch:
            await asyncio.to_thread(spool.release, item)
        raise
    for item in batch:
        await asyncio.to_thread(spool.done, item)
    return len(batch)


async def run_drain(state: GatewayState) -> None:
    """Forever: while Redis is down, probe it; while the spool holds deliveries, drain them."""
    recovered = await asyncio.to_thread(state.spool.recover_claims)
    if recovered:
        log.warning("spool_claims_recovered", count=recovered)
    while True:
        try:
            if state.redis_down:
                state.redis_down = not await redis_reachable(state, timeout_s=0.5)
                if not state.redis_down:
                    log.info("redis_back")
            if not state.redis_down:
                moved = await drain_once(state.spool, state.queue)
                if moved:
                    state.metrics.spool_drained.inc(moved)
                    log.info("spool_drained", count=moved)
                    continue  # more may be waiting: no pause between batches
        except (RedisError, OSError, TimeoutError) as exc:
            state.redis_down = True
            log.warning("spool_drain_failed", error=type(exc).__name__)
        except Exception:  # the drain must outlive any single bad file
            log.exception("spool_drain_crashed")
        await asyncio.sleep(IDLE_S)
