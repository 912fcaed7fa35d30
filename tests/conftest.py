"""Shared fixtures: one real redis-server for the session, signed Sentry deliveries, settings."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from gateway.app import create_app
from gateway.signature import sign
from shared.embedded_redis import EmbeddedRedis
from shared.settings import Settings, load_settings

# A copy of ../shared/fixtures (Sentry's published payloads and API schema), kept in the repo so
# a clone anywhere can run the tests.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The webhook payloads ship inside the package (the demo posts them too): one copy.
WEBHOOK_FIXTURES = Path(__file__).resolve().parent.parent / "standin" / "fixtures" / "sentry-webhooks"
OPENAPI = FIXTURES / "sentry-api" / "openapi.json"

SECRET = "test-client-secret-0123456789abcdef"
TOKEN = "sntrys_test_auth_token_do_not_leak_0123456789"


def load_webhook(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBHOOK_FIXTURES / f"{name}.json").read_text())
    return data


def webhook_names() -> list[str]:
    return sorted(p.stem for p in WEBHOOK_FIXTURES.glob("*.json"))


def wire_bytes(payload: object) -> bytes:
    """Serialize as Sentry does on the wire: compact separators, non-ASCII escaped."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def signed_headers(
    body: bytes, resource: str, secret: str = SECRET, request_id: str | None = None,
    timestamp: float | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id or uuid.uuid4().hex,
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(timestamp if timestamp is not None else time.time())),
        "Sentry-Hook-Signature": sign(body, secret),
    }


def delivery(name: str, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    """A fixture payload as Sentry would deliver it: wire bytes and signed headers. Error and
    event-alert deliveries get a fresh event_id each time, as every real one carries a new event
    (a byte-identical body is a replay to the gateway)."""
    payload = load_webhook(name)
    for key in ("error", "event"):
        if name.startswith(("error.", "event_alert.")) and key in payload["data"]:
            payload["data"][key]["event_id"] = uuid.uuid4().hex
    body = wire_bytes(payload)
    return body, signed_headers(body, name.split(".", 1)[0], **kwargs)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
async def redis(redis_server: EmbeddedRedis) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def make_settings(redis_server: EmbeddedRedis, tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "SENTRY_CLIENT_SECRET": SECRET,
            "REDIS_URL": redis_server.url,
            "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"),
            "RESPONDER_WORKER_METRICS_PORT": "0",
        }
        values.update(overrides)
        return load_settings(**values)

    return factory


@pytest.fixture
async def client_for(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Any]]:
    """Build gateway apps (lifespan run) and in-process clients for them; all closed at the end."""
    stack: list[Any] = []

    async def factory(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(make_settings(**overrides))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")
        stack.append((lifespan, client))
        return client

    yield factory
    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
from tests.sentry_api_helpers import api_rig  # noqa: E402, F401  (the read/act API tests' gateway + stand-in)
