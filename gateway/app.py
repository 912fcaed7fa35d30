"""The gateway's Starlette app: the webhook route for Sentry and the ops routes for people."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route

from gateway.drain import run_drain
from gateway.errors import http_exception
from gateway.health import healthz, metrics, readyz
from gateway.ops import ops_routes
from gateway.sentry_api.lifespan import serve_sentry_api
from gateway.sentry_api.mcp_server import McpEndpoint
from gateway.sentry_api.routes import fallback_route, sentry_api_routes
from gateway.sentry_api.tokens import parse_tokens
from gateway.spool import SpoolInsecure, prepare_directory
from gateway.state import GatewayState
from gateway.webhook import receive_webhook
from shared.logging import configure_logging
from shared.redis import connect
from shared.selfreport import init_self_reporting
from shared.settings import Settings, SettingsError, load_settings


def create_app(settings: Settings, sentry_transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """`sentry_transport` replaces the network for the gateway's Sentry calls, the read API's and
    undo's (tests: the stand-in)."""
    settings.require_gateway()
    try:
        prepare_directory(settings.spool_dir)
    except SpoolInsecure as exc:
        raise SettingsError(str(exc)) from None
    parse_tokens(settings.service_tokens)  # a malformed RESPONDER_SERVICE_TOKENS stops start-up

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = connect(settings.redis)
        state = GatewayState.build(settings, redis)
        if sentry_transport is not None:
            state.sentry_transport = sentry_transport
        app.state.gateway = state
        drain = asyncio.create_task(run_drain(state))
        try:
            async with serve_sentry_api(app, settings, redis, sentry_transport, state.metrics):
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
        *sentry_api_routes(),
        Route("/api/sentry/mcp", McpEndpoint(), methods=["GET", "POST", "DELETE"]),
        fallback_route(),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_exception})


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory gateway.app:app_from_env` (one app per server process)."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, settings.secret_values())
    init_self_reporting(settings, "gateway")  # only with RESPONDER_SENTRY_DSN
    return create_app(settings)
