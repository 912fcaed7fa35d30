"""Fixtures: one real redis-server for the session, settings, gateway clients. What tests import
(payloads, signed deliveries, the burst worker) is in tests/helpers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from devtools.embedded_redis import EmbeddedRedis
from gateway.app import create_app
from shared.settings import Settings, load_settings
from tests.helpers import PATIENT_ENQUEUE, SECRET


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
            **PATIENT_ENQUEUE,
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The real processes' log files go with a green run; a red one keeps them to read."""
    if exitstatus == 0:
        from tests.processes import LOGS

        for log in LOGS:
            log.unlink(missing_ok=True)
