"""Installations of a public integration, kept in Redis: which organization each serves, and its
tokens, encrypted at rest (Fernet, keys from RESPONDER_TOKEN_KEY), so a copy of Redis's data or a
look with redis-cli shows no usable token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, SecretStr
from redis.asyncio import Redis

from shared import keys
from shared.lua import LuaScript
from shared.replies import text, texts

_UPDATE_IF_INSTALLED = LuaScript("""
if redis.call('HEXISTS', KEYS[1], 'organization') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'tokens', ARGV[1])
return 1
""")


class TokenSet(BaseModel):
    token: SecretStr
    refresh_token: SecretStr
    expires_at: datetime

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return (self.expires_at - now).total_seconds() <= seconds

    def to_plain_json(self) -> bytes:
        """The secrets in clear, only ever to be encrypted (SecretStr hides them from dumps)."""
        return json.dumps({
            "token": self.token.get_secret_value(), "refresh_token": self.refresh_token.get_secret_value(),
            "expires_at": self.expires_at.isoformat(),
        }).encode()


class Installation(BaseModel):
    uuid: str
    organization: str
    installed_at: float


class TokenCipher:
    """The first key encrypts; every key decrypts (rotation: put the new key first)."""

    def __init__(self, keys_: Sequence[SecretStr]) -> None:
        if not keys_:
            raise ValueError("no token key")
        self._fernet = MultiFernet([Fernet(k.get_secret_value().encode()) for k in keys_])

    def seal(self, tokens: TokenSet) -> bytes:
        return self._fernet.encrypt(tokens.to_plain_json())

    def open(self, blob: bytes) -> TokenSet:
        try:
            return TokenSet.model_validate_json(self._fernet.decrypt(blob))
        except InvalidToken:
            raise ValueError("stored installation tokens do not decrypt with RESPONDER_TOKEN_KEY") from None


class InstallationStore:
    def __init__(self, redis: Redis, cipher: TokenCipher) -> None:
        self._redis = redis
        self._cipher = cipher

    async def save(self, uuid: str, organization: str, tokens: TokenSet, installed_at: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.installation(uuid), mapping={
                "organization": organization, "installed_at": repr(installed_at),
                "tokens": self._cipher.seal(tokens).decode(),
            })
            pipe.hset(keys.INSTALLATIONS_BY_ORG, organization, uuid)
            pipe.delete(keys.installation_removed(uuid))
            await pipe.execute()

    async def update_tokens(self, uuid: str, tokens: TokenSet) -> bool:
        """False when the installation was removed meanwhile: a refresh must not bring its tokens back."""
        written = await _UPDATE_IF_INSTALLED(
            self._redis, [keys.installation(uuid)], [self._cipher.seal(tokens).decode()]
        )
        return bool(written)

    async def get(self, uuid: str) -> Installation | None:
        raw = await self._redis.hmget(keys.installation(uuid), ["organization", "installed_at"])  # type: ignore[misc]
        if raw[0] is None:
            return None
        return Installation(uuid=uuid, organization=text(raw[0]), installed_at=float(raw[1] or 0))

    async def tokens(self, uuid: str) -> TokenSet | None:
        blob = await self._redis.hget(keys.installation(uuid), "tokens")  # type: ignore[misc]
        return self._cipher.open(blob) if blob else None

    async def for_organization(self, organization: str) -> str | None:
        uuid = await self._redis.hget(keys.INSTALLATIONS_BY_ORG, organization)  # type: ignore[misc]
        return text(uuid) if uuid else None

    async def all(self) -> list[Installation]:
        mapping = await self._redis.hgetall(keys.INSTALLATIONS_BY_ORG)  # type: ignore[misc]
        found = [await self.get(uuid) for uuid in texts(mapping.values())]
        return sorted((i for i in found if i is not None), key=lambda i: i.organization)

    async def remove(self, uuid: str, keep_marker_s: int) -> str | None:
        """Forget an installation and its tokens; remember for a while that it was removed, so
        its queued jobs are skipped. Returns the organization it served."""
        installation = await self.get(uuid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.installation(uuid))
            if installation is not None:
                pipe.hdel(keys.INSTALLATIONS_BY_ORG, installation.organization)
            pipe.set(keys.installation_removed(uuid), "1", ex=keep_marker_s)
            await pipe.execute()
        return installation.organization if installation else None

    async def removed(self, uuid: str) -> bool:
        return bool(await self._redis.exists(keys.installation_removed(uuid)))
