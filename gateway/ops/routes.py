"""The ops routes, each behind the dashboard's access check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.ops import api
from gateway.ops.auth import refusal
from gateway.ops.dashboard import page
from gateway.state import GatewayState

Handler = Callable[[Request], Awaitable[Response]]
STATIC = Path(__file__).resolve().parent / "static"


def guarded(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        token = state.settings.dashboard_token
        denied = refusal(request, token.get_secret_value() if token else None)
        if denied is not None:
            return denied
        try:
            return await handler(request)
        except (RedisError, OSError):
            return JSONResponse({"error": "redis unavailable", "detail": "the job store cannot be read now"},
                                status_code=503)

    return endpoint


def ops_routes() -> list[BaseRoute]:
    return [
        Route("/", page),  # checks access itself: it also takes the token once, from the URL
        Route("/api/jobs", guarded(api.list_jobs)),
        Route("/api/jobs/{job_id}", guarded(api.get_job)),
        Route("/api/jobs/{job_id}/replay", guarded(api.replay), methods=["POST"]),
        Route("/api/dead", guarded(api.dead)),
        Route("/api/dead/replay", guarded(api.replay_all), methods=["POST"]),
        Route("/api/stats", guarded(api.stats)),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
