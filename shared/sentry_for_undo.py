"""A Sentry client for one write-back's organization, outside the worker (undo from the dashboard
or the CLI): the internal integration's token, or the installation's token for a public one, and
always the shared Redis budget of that organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis

from shared.installations import InstallationStore, TokenCipher
from shared.sentry.client import SentryClient
from shared.sentry.installs import InstallationAuth, InstallationTokens
from shared.sentry.ratelimit import RedisRateLimiter
from shared.settings import Settings, SettingsError


@asynccontextmanager
async def client_for(
    settings: Settings, redis: Redis, organization: str | None, installation: str | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[SentryClient]:
    if settings.mode == "internal":
        async with SentryClient.from_settings(settings, redis, transport=transport) as client:
            yield client
        return
    if settings.mode != "public" or not installation or not organization or settings.client_id is None:
        raise SettingsError("undo needs a Sentry token: SENTRY_AUTH_TOKEN, or the public integration's settings")
    store = InstallationStore(redis, TokenCipher(settings.token_keys))
    tokens = InstallationTokens(
        store, redis, settings.base_url, settings.client_id, settings.client_secrets[0].get_secret_value(),
        transport=transport,
    )
    client = SentryClient(
        settings.base_url, None, organization, auth=InstallationAuth(tokens, installation), transport=transport,
        limiter=RedisRateLimiter(redis, f"org:{organization}", settings.sentry_rate_limit_per_min),
        timeout_s=settings.sentry_timeout_s,
    )
    try:
        yield client
    finally:
        await client.aclose()
        await tokens.aclose()
