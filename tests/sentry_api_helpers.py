"""Gateways with the read/act API wired to an in-process Sentry stand-in, for the API and MCP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from gateway.app import create_app
from shared.settings import Settings
from standin.app import DEMO_TOKEN, create_standin
from standin.state import StandinState

READER = "reader-token-0123456789abcdef"
ACTOR = "actor-token-0123456789abcdef"
SERVICE_TOKENS = f"support-bot:read:{READER},triage-agent:read+act:{ACTOR}"


def api_settings(**overrides: str) -> dict[str, str]:
    return {
        "SENTRY_AUTH_TOKEN": DEMO_TOKEN, "SENTRY_ORGANIZATION": "demo-org",
        "SENTRY_BASE_URL": "http://standin/api/0/", "RESPONDER_SERVICE_TOKENS": SERVICE_TOKENS,
    } | overrides


@dataclass
class ApiRig:
    http: httpx.AsyncClient
    app: Starlette
    standin: Starlette
    transport: httpx.ASGITransport

    @property
    def sentry(self) -> StandinState:
        state: StandinState = self.standin.state.standin
        return state

    async def get(self, path: str, token: str | None = READER, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.get(path, params=params, headers=headers)

    async def post(self, path: str, body: object, token: str | None = ACTOR, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.post(path, json=body, headers=headers)


MakeRig = Callable[..., Any]


@pytest.fixture
async def api_rig(make_settings: Callable[..., Settings], redis: Redis) -> AsyncIterator[MakeRig]:
    """Gateways on a flushed Redis (the `redis` fixture), each with a fresh stand-in."""
    opened: list[tuple[Any, httpx.AsyncClient]] = []

    async def factory(**overrides: str) -> ApiRig:
        standin = create_standin()
        transport = httpx.ASGITransport(app=standin)
        settings = make_settings(**api_settings(**overrides))
        app = create_app(settings, sentry_transport=transport)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")
        opened.append((lifespan, http))
        return ApiRig(http, app, standin, transport)

    yield factory
    for lifespan, http in reversed(opened):
        await http.aclose()
        await lifespan.__aexit__(None, None, None)
