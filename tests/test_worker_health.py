"""The worker's view of Redis: two log lines an outage, /healthz and /readyz on its port, waiting
for a Redis that is not up yet, and a Redis that refuses its credentials as a configuration error."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis as sync_redis
from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import WatchError
from structlog.testing import capture_logs

from devtools.embedded_redis import EmbeddedRedis
from devtools.processes import free_port
from tests.helpers import SECRET
from tests.processes import Proc, worker
from worker import http_port
from worker.redis_health import HEARTBEAT_STALE_S, RedisHealth, backoff_s, redis_down


def test_an_outage_is_one_warning_going_and_one_coming_back() -> None:
    health = RedisHealth()
    with capture_logs() as logs:
        for _ in range(20):
            health.lost(RedisConnectionError("Connection refused"))
        for _ in range(5):
            health.ok()
    assert [entry["event"] for entry in logs] == ["redis_unavailable", "redis_back"]
    assert all(entry["log_level"] == "warning" for entry in logs)
    assert not health.failures and health.available and len(health.outages) == 1


def test_backoff_grows_to_a_few_seconds_and_stops_there() -> None:
    assert 0.25 <= backoff_s(1) <= 0.5
    assert all(2.5 <= backoff_s(n) <= 5.0 for n in range(5, 50))


def test_what_counts_as_redis_down() -> None:
    from redis.exceptions import AuthenticationError, BusyLoadingError, ResponseError

    assert redis_down(RedisConnectionError()) and redis_down(BusyLoadingError()) and redis_down(ConnectionResetError())
    assert not redis_down(AuthenticationError()) and not redis_down(ResponseError()) and not redis_down(ValueError())
    try:  # as redis-py reports a connection lost while WATCHing (arq's start_jobs)
        try:
            raise RedisConnectionError("Error while reading from 127.0.0.1:6379")
        except RedisConnectionError:
            raise WatchError("A ConnectionError occurred on while watching one or more keys") from None
    except WatchError as lost_in_watch:
        assert redis_down(lost_in_watch)
    assert not redis_down(WatchError("Watched variable changed."))


def test_ready_needs_redis_and_a_fresh_heartbeat() -> None:
    health = RedisHealth()
    assert health.readiness(100.0) == (False, {"status": "unavailable", "redis": True, "heartbeat_age_s": None})
    health.last_heartbeat = 100.0
    assert health.readiness(101.0)[0] is True
    assert health.readiness(100.0 + HEARTBEAT_STALE_S + 1)[0] is False  # the loop is stuck
    health.lost(RedisConnectionError())
    assert health.readiness(101.0) == (False, {"status": "unavailable", "redis": False, "heartbeat_age_s": 1.0})


def test_the_port_serves_metrics_healthz_and_readyz() -> None:
    registry = CollectorRegistry()
    Counter("probe_test", "a counter", registry=registry).inc()
    state = {"ready": False}
    port = free_port()
    server = http_port.serve(port, "127.0.0.1", registry, lambda: (state["ready"], {"ready": state["ready"]}))
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/healthz").json() == {"status": "ok"}
        not_ready = httpx.get(url + "/readyz")
        assert not_ready.status_code == 503 and not_ready.json() == {"ready": False}
        state["ready"] = True
        assert httpx.get(url + "/readyz").status_code == 200
        assert "probe_test_total 1.0" in httpx.get(url + "/metrics").text
    finally:
        server.shutdown()
        server.server_close()


def _ready(url: str) -> int:
    try:
        return httpx.get(url + "/readyz", timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _until(check: Callable[[], bool], proc: Proc, timeout_s: float = 60.0) -> None:
    """Wait for a condition while the worker keeps running."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert proc.popen is not None and proc.popen.poll() is None, proc.log()[-3000:]
        assert time.monotonic() < deadline, proc.log()[-3000:]
        time.sleep(0.1)


@pytest.mark.timeout(180)
def test_a_worker_started_before_redis_waits_for_it(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path / "redis")  # its port is chosen, nothing listens yet
    port = free_port()
    env = {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": server.url, "RESPONDER_WORKER_METRICS_PORT": str(port),
           "RESPONDER_LOG_FORMAT": "json"}
    w = worker(env)
    try:
        _until(lambda: "redis_unavailable" in w.log(), w)  # it tried, and waits rather than exits
        server.start()
        _until(lambda: _ready(f"http://127.0.0.1:{port}") == 200, w)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
    finally:
        w.stop()
        server.close()
    log = w.log()
    assert w.popen is not None and w.popen.returncode == 0, log[-3000:]
    assert log.count("redis_unavailable") == 1 and log.count("redis_back") == 1, log[-3000:]
    assert "Traceback" not in log


@pytest.mark.timeout(90)
def test_redis_refusing_the_credentials_is_a_configuration_error(tmp_path: Path) -> None:
    with EmbeddedRedis(data_dir=tmp_path / "redis") as server:
        sync_redis.Redis.from_url(server.url).config_set("requirepass", "not-what-the-worker-has")
        w = worker({"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": server.url, "RESPONDER_WORKER_METRICS_PORT": "0"})
        assert w.popen is not None
        returncode = w.popen.wait(timeout=80)
    log = w.log()
    assert returncode == 2, log[-3000:]
    assert "configuration error: REDIS_URL: Redis refused the credentials" in log
    assert "Traceback" not in log


async def test_a_poll_that_loses_redis_mid_watch_gives_its_job_slot_back(
    redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """arq takes a slot, then WATCHes the job's key; a connection lost there (a WatchError from
    redis-py) must not kill the loop or keep the slot, or every outage would shrink the worker."""
    from arq.connections import RedisSettings, create_pool
    from arq.worker import Worker

    from shared.settings import load_settings
    from worker.main import build_worker

    settings = load_settings(SENTRY_CLIENT_SECRET=SECRET, REDIS_URL=redis_server.url,
                             RESPONDER_QUEUE_NAME="responder:test-watch-queue")

    async def lost_in_watch(self: Worker, job_ids: list[bytes]) -> None:
        await self.sem.acquire()
        self.job_counter += 1  # as arq does before it asks Redis about the job
        try:
            raise RedisConnectionError("Error while reading from the socket")
        except RedisConnectionError:
            raise WatchError("A ConnectionError occurred on while watching one or more keys") from None

    monkeypatch.setattr(Worker, "start_jobs", lost_in_watch)
    worker = build_worker(settings, handle_signals=False)
    worker._pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    await worker.pool.zadd(settings.queue_name, {"job-1": 0})
    free_slots = worker.sem._value
    try:
        await worker._poll_iteration()  # no exception: it waited for Redis instead
        assert worker.job_counter == 0 and worker.sem._value == free_slots
        assert not worker.redis_health.available
    finally:
        await worker.pool.delete(settings.queue_name)
        await worker.pool.aclose()
