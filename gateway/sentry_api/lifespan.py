"""The read/act API's part of the gateway's lifespan: build it, run the MCP session manager, close."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis
from starlette.applications import Starlette

from gateway.metrics import GatewayMetrics
from gateway.sentry_api.mcp_server import build_mcp, http_session_manager
from gateway.sentry_api.state import SentryApi
from shared.settings import Settings


@asynccontextmanager
async def serve_sentry_api(
    app: Starlette, settings: Settings, redis: Redis, transport: httpx.AsyncBaseTransport | None = None,
    metrics: GatewayMetrics | None = None,
) -> AsyncIterator[SentryApi]:
    api = SentryApi.build(settings, redis, transport)
    api.metrics = metrics
    manager = api.mcp_http = http_session_manager(build_mcp(api))
    app.state.sentry_api = api
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_manager() -> None:
        # In a task of its own: its task group is entered and left by the same task, whichever
        # tasks run the gateway's start-up and shutdown.
        async with manager.run():
            started.set()
            await stop.wait()

    runner = asyncio.create_task(run_manager())
    waiter = asyncio.create_task(started.wait())
    done, _ = await asyncio.wait([runner, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if runner in done:
        runner.result()  # it failed to start: raise why
    try:
        yield api
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await api.aclose()
