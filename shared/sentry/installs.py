"""A public integration's tokens: the grant-code exchange at install, and refreshes that happen once
however many workers notice the expiry at the same moment (a Redis lock, then a second look).

`POST /api/0/sentry-app-installations/{uuid}/authorizations/` with the integration's client id and
secret takes `grant_type=authorization_code` (the code from `installation.created`) or
`grant_type=refresh_token`, and answers a token, a refresh token and when the token expires.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from datetime import datetime

import httpx
import structlog
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from shared import keys
from shared.installations import InstallationStore, TokenSet
from shared.sentry.client import UA, default_transport
from shared.sentry.errors import SentryError, SentryServerError, SentryTransportError, error_for

log = structlog.get_logger("sentry.installs")

REFRESH_MARGIN_S = 300.0  # refresh a token this long before it expires
LOCK_S = 30.0


class Authorization(BaseModel):
    """Sentry's answer (the API token serializer), only what is kept."""

    token: str
    refresh_token: str = Field(alias="refreshToken")
    expires_at: datetime = Field(alias="expiresAt")

    def token_set(self) -> TokenSet:
        return TokenSet.model_validate(
            {"token": self.token, "refresh_token": self.refresh_token, "expires_at": self.expires_at}
        )


class NotInstalled(SentryError):
    """No tokens for this installation: never installed here, or removed."""

    transient = False

    def __init__(self, uuid: str) -> None:
        super().__init__(None, "no tokens for this installation", "GET", f"installation {uuid}")


class InstallationTokens:
    def __init__(
        self, store: InstallationStore, redis: Redis, base_url: str, client_id: str, client_secret: str,
        transport: httpx.AsyncBaseTransport | None = None, margin_s: float = REFRESH_MARGIN_S,
    ) -> None:
        self.store = store
        self._redis = redis
        self._client_id = client_id
        self._client_secret = client_secret
        self._margin_s = margin_s
        self._http = httpx.AsyncClient(
            base_url=base_url, headers={"User-Agent": UA}, timeout=10.0,
            transport=transport or default_transport(),
        )
        self.refreshes = 0  # how many refresh calls this process made (tests, metrics)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _authorize(self, uuid: str, grant: dict[str, str]) -> TokenSet:
        path = f"sentry-app-installations/{uuid}/authorizations/"
        body = grant | {"client_id": self._client_id, "client_secret": self._client_secret}
        try:
            response = await self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise SentryTransportError(None, type(exc).__name__, "POST", "/" + path) from None
        if not response.is_success:  # the body may echo what we sent: never put it in an error
            raise error_for(response.status_code, "token exchange refused", "POST", response.request.url.path)
        try:
            answer: Authorization | None = Authorization.model_validate(response.json())
        except ValueError:  # pydantic's error quotes its input, the tokens: raise outside, keep no context
            answer = None
        if answer is None:
            raise SentryServerError(
                response.status_code, "token exchange answer not understood", "POST", response.request.url.path
            )
        return answer.token_set()

    async def install(self, uuid: str, code: str, organization: str) -> None:
        """`installation.created`: trade the one-time grant code for tokens and keep them."""
        tokens = await self._authorize(uuid, {"grant_type": "authorization_code", "code": code})
        await self.store.save(uuid, organization, tokens, time.time())
        log.info("installation_added", installation=uuid, organization=organization)

    async def token(self, uuid: str) -> str:
        """A token for this installation that is good for at least the margin, refreshed if not."""
        tokens = await self.store.tokens(uuid)
        if tokens is None:
            raise NotInstalled(uuid)
        if not tokens.expires_within(self._margin_s):
            return tokens.token.get_secret_value()
        lock = self._redis.lock(keys.installation_lock(uuid), timeout=LOCK_S, blocking_timeout=LOCK_S)
        async with lock:
            tokens = await self.store.tokens(uuid)  # another worker may have refreshed meanwhile
            if tokens is None:
                raise NotInstalled(uuid)
            if tokens.expires_within(self._margin_s):
                grant = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token.get_secret_value()}
                tokens = await self._authorize(uuid, grant)
                if not await self.store.update_tokens(uuid, tokens):
                    raise NotInstalled(uuid)
                self.refreshes += 1
                log.info("installation_token_refreshed", installation=uuid)
        return tokens.token.get_secret_value()


class InstallationAuth(httpx.Auth):
    """Puts the installation's current token on each request to Sentry's API.

    A refresh revokes the token it replaces, so a request that left with the old token while
    another worker refreshed gets a 401: it is sent once more with the new token, and only a 401
    on a token that is still current counts as permanent."""

    def __init__(self, tokens: InstallationTokens, uuid: str) -> None:
        self._tokens = tokens
        self._uuid = uuid
        self.retried_after_refresh = 0

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        sent = await self._tokens.token(self._uuid)
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code == 401:
            current = await self._tokens.token(self._uuid)
            if current != sent:
                self.retried_after_refresh += 1
                request.headers["Authorization"] = f"Bearer {current}"
                yield request
