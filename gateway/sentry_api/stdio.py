"""`sentry-responder mcp`: the MCP server on stdin/stdout, for an agent that starts it as a command.

The process holds the same settings as the gateway (Sentry token, Redis: the same budget and cache).
Who the caller is comes from `--as <name>` (an entry of RESPONDER_SERVICE_TOKENS, with its scope);
without it the caller is `local-stdio`, read-only. Logs go to stderr: stdout is the protocol.
"""

from __future__ import annotations

import asyncio

import httpx
from pydantic import SecretStr

from gateway.sentry_api.mcp_server import build_mcp
from gateway.sentry_api.state import SentryApi
from gateway.sentry_api.tokens import Scope, ServiceToken
from shared.redis import connect
from shared.settings import Settings, SettingsError

LOCAL = ServiceToken("local-stdio", Scope.READ, SecretStr(""))


def stdio_caller(tokens: tuple[ServiceToken, ...], name: str | None) -> ServiceToken:
    if name is None:
        return LOCAL
    found = next((t for t in tokens if t.name == name), None)
    if found is None:
        raise SettingsError(f"--as {name}: no such name in RESPONDER_SERVICE_TOKENS")
    return found


async def serve_stdio(
    settings: Settings, caller_name: str | None, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    redis = connect(settings.redis_url)
    api = SentryApi.build(settings, redis, transport)
    try:
        server = build_mcp(api, stdio_caller(api.tokens, caller_name))
        await server.run_stdio_async()
    finally:
        await api.aclose()
        await redis.aclose()


def run_stdio(settings: Settings, caller_name: str | None) -> None:
    asyncio.run(serve_stdio(settings, caller_name))
