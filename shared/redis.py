"""The one way processes connect to Redis: bounded timeouts, so an outage fails fast, never hangs."""

from __future__ import annotations

from redis.asyncio import Redis


def connect(url: str, timeout_s: float = 2.0) -> Redis:
    client: Redis = Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        retry_on_timeout=False,
    )
    return client
