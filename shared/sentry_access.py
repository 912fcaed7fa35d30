"""A Sentry client for one organization outside the worker (undo from the dashboard or the CLI, the
backtest): the internal integration's token, or the installation's token for a public one, and
always that organization's shared Redis budget (or only a share of it, for the backtest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis

from shared.installations import InstallationStore, TokenCipher
from shared.sentry.client import SentryClient
from shared.sentry.installs import InstallationAuth, InstallationTokens
from shared.sentry.ratelimit import BudgetShare, RateLimiter, RedisRateLimiter
from shared.settings import Settings, SettingsError


def budget(settings: Settings, redis: Redis, organization: str, share: float | None) -> RateLimiter:
    limiter = RedisRateLimiter(redis, f"org:{organization}", settings.sentry_rate_limit_per_min)
    return limiter if share is None else BudgetShare(limiter, settings.sentry_rate_limit_per_min, share)


@asynccontextmanager
async def client_for(
    settings: Settings, redis: Redis, organization: str | None, installation: str | None,
    transport: httpx.AsyncBaseTransport | None = None, budget_share: float | None = None,
) -> AsyncIterator[SentryClient]:
    if settings.mode == "internal" and settings.organization:
        limiter = budget(settings, redis, settings.organization, budget_share)
        async with SentryClient.from_settings(
            settings, redis, transport=transport, limiter=limiter, max_wait_s=None,  # not a job: it may wait
        ) as client:
            yield client
        return
    if settings.mode != "public" or not installation or not organization or settings.client_id is None:
        raise SettingsError("needs a Sentry token: SENTRY_AUTH_TOKEN and SENTRY_ORGANIZATION, "
                            "or the public integration's settings and an installed organization")
    store = InstallationStore(redis, TokenCipher(settings.token_keys))
    tokens = InstallationTokens(
        store, redis, settings.base_url, settings.client_id, settings.client_secrets[0].get_secret_value(),
        transport=transport,
    )
    client = SentryClient(
        settings.base_url, None, organization, auth=InstallationAuth(tokens, installation), transport=transport,
        limiter=budget(settings, redis, organization, budget_share), timeout_s=settings.sentry_timeout_s,
        max_wait_s=None,  # not a job: it may wait for the budget or a 429
    )
    try:
        yield client
    finally:
        await client.aclose()
        await tokens.aclose()
