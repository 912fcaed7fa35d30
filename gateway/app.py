"""The gateway's Starlette app: the webhook route for Sentry and the ops routes for people."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from gateway.drain import run_drain
from gateway.health import healthz, metrics, readyz
from gateway.ops import ops_routes
from gateway.spool import SpoolInsecure, prepare_directory
from gateway.state import GatewayState
from gateway.webhook import receive_webhook
from shared.logging import configure_logging
from shared.redis import connect
from shared.settings import Settings, SettingsError, load_settings


def create_app(settings: Settings) -> Starlette:
    settings.require_gateway()
    try:
        prepare_directory(settings.spool_dir)
    except SpoolInsecure as exc:
        raise SettingsError(str(exc)) from None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = connect(settings.redis)
        state = GatewayState.build(settings, redis)
        app.state.gateway = state
        drain = asyncio.create_task(run_drain(state))
        try:
            yield
        finally:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
            await state.batcher.close()
            await redis.aclose()

    routes = [
        Route("/webhooks/sentry", receive_webhook, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *ops_routes(),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory gateway.app:app_from_env` (one app per server process)."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, settings.secret_values())
    return create_app(settings)
