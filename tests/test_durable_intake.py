"""A delivery that got a 202 is never lost: Redis stopped mid-stream, the gateway SIGKILLed."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis

from devtools.embedded_redis import EmbeddedRedis
from gateway.signature import sign
from shared import keys
from tests.helpers import ANSWER_TIMEOUT_S, SECRET, load_webhook
from tests.processes import gateway, worker

pytestmark = pytest.mark.chaos


def issue_delivery(n: int) -> tuple[bytes, dict[str, str]]:
    payload = copy.deepcopy(load_webhook("issue.created"))
    payload["data"]["issue"]["id"] = str(700_000 + n)  # one issue each: no coalescing
    body = json.dumps(payload, separators=(",", ":")).encode()
    return body, {
        "Content-Type": "application/json", "Request-ID": uuid.uuid4().hex,
        "Sentry-Hook-Resource": "issue", "Sentry-Hook-Timestamp": str(int(time.time())),
        "Sentry-Hook-Signature": sign(body, SECRET),
    }


def post_all(url: str, count: int, start: int = 0) -> list[tuple[str, float, dict[str, Any]]]:
    out = []
    with httpx.Client(base_url=url, timeout=ANSWER_TIMEOUT_S) as client:
        for n in range(start, start + count):
            body, headers = issue_delivery(n)
            began = time.perf_counter()
            response = client.post("/webhooks/sentry", content=body, headers=headers)
            elapsed = time.perf_counter() - began
            assert response.status_code == 202, response.text
            out.append((headers["Request-ID"], elapsed, response.json()))
    return out


def wait_processed(redis_url: str, ids: list[str], timeout_s: float = 60.0) -> dict[str, dict[bytes, bytes]]:
    client = sync_redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    while True:
        records = {i: client.hgetall(keys.job(i)) for i in ids}
        if all(r.get(b"state") == b"succeeded" for r in records.values()):
            return records
        if time.monotonic() > deadline:
            states = {i: r.get(b"state") for i, r in records.items() if r.get(b"state") != b"succeeded"}
            raise AssertionError(f"not processed: {states}")
        time.sleep(0.2)


@pytest.mark.timeout(240)  # 70 real deliveries, most of them spooled, through real processes
def test_redis_stopped_mid_stream_loses_nothing(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path / "redis").start()
    env = {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": server.url, "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"),
           "RESPONDER_LOG_LEVEL": "WARNING", "RESPONDER_QUIET_WINDOW_S": "0"}
    try:
        with gateway(env) as (_proc, url):
            before = post_all(url, 20)
            server.stop()
            during = post_all(url, 30, start=100)
            assert all(r["spooled"] for _, _, r in during)  # how fast: bench/, never asserted here
            server.start()
            after = post_all(url, 20, start=200)
            ids = [i for i, _, _ in before + during + after]
            w = worker(env)
            try:
                records = wait_processed(server.url, ids)
            finally:
                w.stop()
            assert {r[b"attempts"] for r in records.values()} == {b"1"}  # each processed once
            client = sync_redis.Redis.from_url(server.url)
            assert client.zcard("responder:queue") == 0
            assert client.zcard(keys.JOBS_BY_TIME) == len(ids)  # no duplicate records either
    finally:
        server.close()


@pytest.mark.timeout(180)
def test_gateway_killed_while_the_spool_holds_deliveries(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path / "redis").start()
    env = {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": server.url, "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"),
           "RESPONDER_LOG_LEVEL": "WARNING"}
    try:
        server.stop()
        with gateway(env) as (proc, url):
            spooled = post_all(url, 15)
            proc.kill()  # SIGKILL: no shutdown, no drain
        assert len(list((tmp_path / "spool").glob("*.delivery"))) == 15
        server.start()
        with gateway(env) as (_proc, url):
            w = worker(env)
            try:
                wait_processed(server.url, [i for i, _, _ in spooled])
            finally:
                w.stop()
            assert httpx.get(url + "/readyz").json()["spool_depth"] == 0
    finally:
        server.close()
