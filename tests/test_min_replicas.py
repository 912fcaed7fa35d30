"""RESPONDER_REDIS_MIN_REPLICAS: a 2xx only once replicas hold the delivery (WAIT), else the spool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis as sync_redis

from devtools.embedded_redis import EmbeddedRedis
from shared import keys
from tests.helpers import PATIENT_ENQUEUE, load_webhook, signed_headers, wire_bytes


@pytest.fixture
def primary() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


async def post(client: httpx.AsyncClient, count: int = 1) -> tuple[str, httpx.Response]:
    """issue.created for the fixture's issue; `count` (the issue's event count) makes a later
    delivery's body differ, as Sentry's do (a byte-identical body is a replay to the gateway)."""
    payload = load_webhook("issue.created")
    payload["data"]["issue"]["count"] = str(count)
    body = wire_bytes(payload)
    headers = signed_headers(body, "issue")
    return headers["Request-ID"], await client.post("/webhooks/sentry", content=body, headers=headers)


async def wait_for(check: Callable[[], bool], timeout_s: float = 45.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(120)
async def test_no_replica_in_time_spools_then_drains_once_a_replica_confirms(
    primary: EmbeddedRedis, client_for: Callable[..., Any],
) -> None:
    client = await client_for(
        REDIS_URL=primary.url, RESPONDER_REDIS_MIN_REPLICAS="1", RESPONDER_REDIS_REPLICA_TIMEOUT_S="2",
        **PATIENT_ENQUEUE,
    )
    spooled_id, response = await post(client)
    assert response.status_code == 202 and response.json()["status"] == "spooled", response.text
    ready = (await client.get("/readyz")).json()
    assert ready["spool_depth"] == 1

    with EmbeddedRedis(extra_args=["--replicaof", "127.0.0.1", str(primary.port)]) as replica:
        on_replica = sync_redis.Redis(port=replica.port)
        try:
            # the drain moves it into Redis once the replica confirms it (WAIT), and only then
            await wait_for(lambda: on_replica.hget(keys.job(spooled_id), "state") == b"queued")
            deadline = time.monotonic() + 45
            while (await client.get("/readyz")).json()["spool_depth"]:
                assert time.monotonic() < deadline, "the spool was not drained"
                await asyncio.sleep(0.05)
            await wait_for(lambda: _in_sync(primary))  # a replica acknowledges only after its first sync
            queued_id, response = await post(client, count=2)
            # same issue: folded into the first job; taken by Redis, not spooled
            assert response.status_code == 202 and response.json()["status"] == "coalesced", response.text
            # the 2xx came after the replica had it: it is there now, not "eventually"
            assert on_replica.hget(keys.job(queued_id), "state") == b"coalesced"
        finally:
            on_replica.close()


def _in_sync(primary: EmbeddedRedis) -> bool:
    client = sync_redis.Redis(port=primary.port)
    try:
        client.incr("probe")
        return int(client.execute_command("WAIT", 1, 100)) == 1  # type: ignore[no-untyped-call]
    finally:
        client.close()


async def test_min_replicas_zero_sends_no_wait(primary: EmbeddedRedis, client_for: Callable[..., Any]) -> None:
    client = await client_for(REDIS_URL=primary.url)
    _, response = await post(client)
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert sync_redis.Redis(port=primary.port).get(keys.REPLICATION_MARK) is None
