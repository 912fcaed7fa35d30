"""A short-lived cache of what was fetched from Sentry, in Redis, shared by the worker's jobs and
the gateway's read API, so a job retried (or an issue asked about twice) costs no second call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel
from redis.asyncio import Redis

from shared import keys

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass
class FetchCache:
    redis: Redis
    ttl_s: int

    async def get(self, kind: str, ident: str, model: type[ModelT]) -> ModelT | None:
        if self.ttl_s <= 0:
            return None
        raw = await self.redis.get(keys.cached(kind, ident))
        return model.model_validate_json(raw) if raw else None

    async def put(self, kind: str, ident: str, value: BaseModel, ttl_s: int | None = None) -> None:
        ttl_s = self.ttl_s if ttl_s is None else ttl_s  # a release is kept longer than an issue
        if self.ttl_s > 0 and ttl_s > 0:
            text = value.model_dump_json(by_alias=True)
            await self.redis.set(keys.cached(kind, ident), text, ex=ttl_s)
