"""Liveness, readiness and metrics: what an orchestrator and Prometheus poll."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.state import GatewayState
from shared import keys


async def healthz(request: Request) -> Response:
    """Up. With RESPONDER_INSTANCE_ID set, it says which process answers (`dev` checks it)."""
    state: GatewayState = request.app.state.gateway
    instance = state.settings.instance_id
    return JSONResponse({"status": "ok"} | ({"instance": instance} if instance else {}))


async def redis_reachable(state: GatewayState, timeout_s: float = 1.0) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await state.redis.ping())
    except (RedisError, OSError, TimeoutError):
        return False


async def readyz(request: Request) -> Response:
    """Ready while deliveries are safe: Redis takes them, or the spool does while Redis is down."""
    state: GatewayState = request.app.state.gateway
    redis_ok = await redis_reachable(state)
    depth = state.spool.depth()
    spool_ok = state.spool.has_room()
    ready = redis_ok or spool_ok
    status = "ready" if redis_ok else ("spooling" if spool_ok else "unavailable")
    return JSONResponse(
        {"status": status, "redis": redis_ok, "spool_depth": depth},
        status_code=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    state.metrics.spool_depth.set(state.spool.depth())
    if await redis_reachable(state, timeout_s=0.5):
        try:
            state.metrics.queue_depth.set(await state.queue.depth())
            for name, count in (await state.store.count_by_state()).items():
                state.metrics.jobs_by_state.labels(name).set(count)
            state.metrics.dead_letters.set(await state.redis.zcard(keys.DEAD_LETTER))
        except (RedisError, OSError):
            pass
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
