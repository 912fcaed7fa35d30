"""Redis goes away twice under a steady stream of deliveries: gateway and worker keep running,
the worker says so once each way (no traceback), its /readyz tells the truth, and every delivery
the gateway took is written back exactly once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.embedded_redis import EmbeddedRedis
from devtools.processes import free_port
from standin.app import DEMO_TOKEN
from tests.helpers import ANSWER_TIMEOUT_S, SECRET
from tests.processes import Proc, gateway, standin, worker
from tests.test_chaos import Stack, assert_one_comment_each, clone_issues, wait_until

pytestmark = pytest.mark.chaos


@dataclass
class Stream:
    """Posts one signed issue.created a tick, each for its own issue, until stopped."""

    stack: Stack
    issue_ids: list[str]
    taken: dict[str, str] = field(default_factory=dict)  # delivery id answered 2xx -> issue id
    refused: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        for issue_id in self.issue_ids:
            if self.stopped.wait(0.1):
                return
            try:
                delivery_id, response = self.stack.post("issue.created", issue_id)
            except httpx.HTTPError as exc:
                self.refused.append(f"{issue_id}: {type(exc).__name__}")
                continue
            if response.is_success:
                self.taken[delivery_id] = issue_id
            else:
                self.refused.append(f"{issue_id}: {response.status_code}")

    def succeeded(self) -> int:
        states = self.stack.states(list(self.taken))
        return sum(1 for state in states.values() if state == "succeeded")


def running(proc: Proc) -> bool:
    """True while the process runs; if it exited, fail with the end of its log."""
    assert proc.popen is not None and proc.popen.poll() is None, proc.log()[-5000:]
    return True


def readyz(url: str) -> tuple[int, dict[str, object]]:
    try:
        response = httpx.get(url + "/readyz", timeout=ANSWER_TIMEOUT_S)  # one answer is asserted
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


@pytest.fixture
def outage_stack(tmp_path: Path) -> Iterator[tuple[Stack, EmbeddedRedis]]:
    with EmbeddedRedis(data_dir=tmp_path / "redis") as server, standin() as standin_url:
        env = {
            "SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": server.url, "SENTRY_BASE_URL": standin_url + "/api/0/",
            "SENTRY_AUTH_TOKEN": DEMO_TOKEN, "SENTRY_ORGANIZATION": "demo-org",
            "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"), "RESPONDER_WORKER_METRICS_PORT": str(free_port()),
            "RESPONDER_RETRY_BASE_S": "0.2", "RESPONDER_RETRY_MAX_S": "1", "RESPONDER_JOB_TIMEOUT_S": "10",
            "RESPONDER_ISSUE_LOCK_S": "12", "RESPONDER_QUIET_WINDOW_S": "0", "RESPONDER_POLL_DELAY_S": "0.05",
            "RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": "100000", "RESPONDER_LOG_LEVEL": "INFO",
            "RESPONDER_LOG_FORMAT": "json",
        }
        with gateway(env) as (proc, url):
            yield Stack(server.url, url, standin_url, env, proc), server


def workers(stack: Stack) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = httpx.get(stack.gateway_url + "/api/stats", timeout=5).json()["workers"]
    return listed


def log_events(text: str, event: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == event:
                lines.append(record)
    return lines


@pytest.mark.timeout(300)
def test_gateway_and_worker_ride_out_two_redis_restarts_under_a_stream(
    outage_stack: tuple[Stack, EmbeddedRedis],
) -> None:
    stack, server = outage_stack
    worker_url = f"http://127.0.0.1:{stack.env['RESPONDER_WORKER_METRICS_PORT']}"
    issue_ids = clone_issues(stack, 400)  # a run posts about 50: the stream never runs dry
    stream = Stream(stack, issue_ids)
    poster = threading.Thread(target=stream.run, daemon=True)
    w = worker(stack.env)
    try:
        wait_until(lambda: running(w) and readyz(worker_url)[0] == 200, timeout_s=60)
        poster.start()
        for _ in range(2):
            done = stream.succeeded()
            wait_until(lambda done=done: stream.succeeded() >= done + 5, timeout_s=90)  # work flows
            server.stop()
            wait_until(lambda: running(w) and readyz(worker_url)[1].get("redis") is False, timeout_s=60)
            assert readyz(worker_url)[0] == 503
            during = len(stream.taken)
            wait_until(lambda during=during: len(stream.taken) >= during + 10, timeout_s=60)  # spooled meanwhile
            assert running(w)
            server.start()
            wait_until(lambda: running(w) and readyz(worker_url)[0] == 200, timeout_s=60)
        after = len(stream.taken)
        wait_until(lambda: len(stream.taken) >= after + 10, timeout_s=60)
        stream.stopped.set()
        poster.join(timeout=30)
        try:
            wait_until(lambda: running(w) and stream.succeeded() == len(stream.taken), timeout_s=120)
        except AssertionError:  # say which deliveries are stuck where, and what the worker said
            stuck = {i: s for i, s in stack.states(list(stream.taken)).items() if s != "succeeded"}
            print(f"stuck: {stuck}\n", w.log()[-20000:], stack.gateway_proc.log()[-5000:])
            raise
        # The dashboard shows the outage the worker rode out (reported with its next heartbeat).
        wait_until(lambda: any(entry["last_redis_outage"] for entry in workers(stack)), timeout_s=60)
        assert w.popen is not None and w.popen.poll() is None  # still running
    finally:
        stream.stopped.set()
        w.stop()
    log = w.log()
    print(f"\nredis outage: {len(stream.taken)} deliveries taken, all written back once")  # shown with -s
    assert stream.refused == [], stack.gateway_proc.log()[-5000:]
    assert_one_comment_each(stack, list(stream.taken.values()))
    assert len(log_events(log, "redis_unavailable")) == 2, log[-5000:]
    assert len(log_events(log, "redis_back")) == 2, log[-5000:]
    assert "Traceback" not in log and "Traceback" not in stack.gateway_proc.log()
    assert stack.gateway_proc.popen is not None and stack.gateway_proc.popen.poll() is None
