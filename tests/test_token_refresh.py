"""A public integration against the strict stand-in: the grant code is traded once, and a request
that left with a token another worker's refresh just revoked is sent once more with the new one."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from redis.asyncio import Redis

from shared.installations import InstallationStore, TokenCipher
from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryAuthError
from shared.sentry.installs import InstallationAuth, InstallationTokens
from standin.app import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, create_standin

BASE = "http://standin/api/0/"


async def installed(redis: Redis) -> tuple[httpx.ASGITransport, InstallationTokens, str, str]:
    app = create_standin()
    transport = httpx.ASGITransport(app=app)
    uuid = str(uuidlib.uuid4())
    async with httpx.AsyncClient(transport=transport, base_url="http://standin") as http:
        code = (await http.post("/_standin/installations", json={"uuid": uuid})).json()["code"]
    store = InstallationStore(redis, TokenCipher([SecretStr(Fernet.generate_key().decode())]))
    tokens = InstallationTokens(store, redis, BASE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, transport=transport)
    await tokens.install(uuid, code, "demo-org")
    return transport, tokens, code, uuid


async def test_a_grant_code_is_traded_once(redis: Redis) -> None:
    _, tokens, code, _ = await installed(redis)
    with pytest.raises(SentryAuthError):
        await tokens.install(str(uuidlib.uuid4()), code, "demo-org")
    with pytest.raises(SentryAuthError):
        await tokens._authorize("other", {"grant_type": "authorization_code", "code": code})
    await tokens.aclose()


async def test_a_401_right_after_a_refresh_is_retried_once_with_the_new_token(redis: Redis) -> None:
    transport, tokens, _, uuid = await installed(redis)
    old = await tokens.store.tokens(uuid)
    assert old is not None
    refreshed = False

    async def another_worker_refreshes_meanwhile(request: httpx.Request) -> httpx.Response:
        nonlocal refreshed
        if not refreshed and "/issues/" in request.url.path:
            refreshed = True
            current = await tokens.store.tokens(uuid)
            assert current is not None
            grant = {"grant_type": "refresh_token", "refresh_token": current.refresh_token.get_secret_value()}
            await tokens.store.update_tokens(uuid, await tokens._authorize(uuid, grant))
        await request.aread()
        return await transport.handle_async_request(request)

    auth = InstallationAuth(tokens, uuid)
    mock = httpx.MockTransport(another_worker_refreshes_meanwhile)
    sentry = SentryClient(BASE, None, "demo-org", auth=auth, transport=mock)
    assert (await sentry.get_issue("4001")).id == "4001"
    assert refreshed and auth.retried_after_refresh == 1
    stale = SentryClient(BASE, old.token.get_secret_value(), "demo-org", transport=transport)
    with pytest.raises(SentryAuthError):  # the refresh revoked it
        await stale.get_issue("4001")
    await stale.aclose()
    await sentry.aclose()
    await tokens.aclose()


async def test_a_401_on_the_current_token_is_permanent_without_a_second_try(redis: Redis) -> None:
    transport, tokens, _, uuid = await installed(redis)
    current = await tokens.store.tokens(uuid)
    assert current is not None
    app: Any = transport.app
    app.state.standin.tokens.pop(current.token.get_secret_value())  # revoked in Sentry, not refreshed
    auth = InstallationAuth(tokens, uuid)
    sentry = SentryClient(BASE, None, "demo-org", auth=auth, transport=transport)
    with pytest.raises(SentryAuthError):
        await sentry.get_issue("4001")
    assert auth.retried_after_refresh == 0
    await sentry.aclose()
    await tokens.aclose()
