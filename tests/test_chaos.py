"""Faults on purpose, against real processes: workers killed and stopped, Sentry failing, the same
delivery twenty times at once, and a full run scanned for secrets. Nothing lost, nothing doubled,
nothing leaked."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis

from devtools.embedded_redis import EmbeddedRedis
from gateway.signature import sign
from shared import keys
from standin.app import DEMO_TOKEN
from tests.helpers import ANSWER_TIMEOUT_S, PATIENT_ENQUEUE, SECRET, load_webhook
from tests.processes import Proc, gateway, standin, worker

pytestmark = pytest.mark.chaos


@dataclass
class Stack:
    redis_url: str
    gateway_url: str
    standin_url: str
    env: dict[str, str]
    gateway_proc: Proc

    def post(self, name: str, issue_id: str, request_id: str | None = None,
             mutate: Any = None) -> tuple[str, httpx.Response]:
        payload = copy.deepcopy(load_webhook(name))
        resource = name.split(".")[0]
        if resource == "issue":
            payload["data"]["issue"]["id"] = issue_id
        else:
            payload["data"]["error"]["issue_id"] = issue_id
        if mutate is not None:
            mutate(payload)
        body = json.dumps(payload, separators=(",", ":")).encode()
        request_id = request_id or uuid.uuid4().hex
        headers = {
            "Content-Type": "application/json", "Request-ID": request_id, "Sentry-Hook-Resource": resource,
            "Sentry-Hook-Timestamp": str(int(time.time())), "Sentry-Hook-Signature": sign(body, SECRET),
        }
        response = httpx.post(self.gateway_url + "/webhooks/sentry", content=body, headers=headers,
                              timeout=ANSWER_TIMEOUT_S)
        return request_id, response

    def standin(self, path: str, body: object = None) -> Any:
        if body is None:
            return httpx.get(self.standin_url + path, timeout=5).json()
        return httpx.post(self.standin_url + path, json=body, timeout=5).json()

    def notes(self) -> dict[str, list[dict[str, Any]]]:
        notes: dict[str, list[dict[str, Any]]] = self.standin("/_standin/state")["notes"]
        return notes

    def states(self, ids: list[str]) -> dict[str, str | None]:
        client = sync_redis.Redis.from_url(self.redis_url)
        values = {i: client.hget(keys.job(i), "state") for i in ids}
        return {i: (v.decode() if isinstance(v, bytes) else v) for i, v in values.items()}

    def wait(self, ids: list[str], states: set[str], timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            current = self.states(ids)
            if all(s in states for s in current.values()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not {states}: { {i: s for i, s in current.items() if s not in states} }")
            time.sleep(0.1)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with EmbeddedRedis(data_dir=tmp_path / "redis") as server, standin() as standin_url:
        env = {
            "SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": server.url, "SENTRY_BASE_URL": standin_url + "/api/0/",
            "SENTRY_AUTH_TOKEN": DEMO_TOKEN, "SENTRY_ORGANIZATION": "demo-org",
            "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"), "RESPONDER_WORKER_METRICS_PORT": "0",
            "RESPONDER_RETRY_BASE_S": "0.2", "RESPONDER_RETRY_MAX_S": "1", "RESPONDER_JOB_TIMEOUT_S": "10",
            "RESPONDER_ISSUE_LOCK_S": "12", "RESPONDER_QUIET_WINDOW_S": "0", "RESPONDER_POLL_DELAY_S": "0.05",
            "RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": "1000", "RESPONDER_LOG_LEVEL": "INFO",
            "RESPONDER_LOG_FORMAT": "json",
            **PATIENT_ENQUEUE,
        }
        with gateway(env) as (proc, url):
            yield Stack(server.url, url, standin_url, env, proc)


def clone_issues(stack: Stack, count: int, start: int = 800_000) -> list[str]:
    stack.standin("/_standin/clone", {"start": start, "count": count})
    return [str(start + n) for n in range(count)]


def post_issues(stack: Stack, issue_ids: list[str]) -> list[str]:
    ids = []
    for issue_id in issue_ids:
        delivery_id, response = stack.post("issue.created", issue_id)
        assert response.status_code == 202, response.text
        ids.append(delivery_id)
    return ids


def assert_one_comment_each(stack: Stack, issue_ids: list[str]) -> None:
    notes = stack.notes()
    assert {i: len(notes.get(i, [])) for i in issue_ids} == {i: 1 for i in issue_ids}
    posted = [c for c in stack.standin("/_standin/calls")["calls"]
              if c["endpoint"] == "comments" and c["method"] == "POST" and c["status"] == 201]
    assert len(posted) == len(issue_ids)


def wait_until(check: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_worker_killed_mid_jobs_every_delivery_is_written_back_once(stack: Stack) -> None:
    issue_ids = clone_issues(stack, 10)
    stack.standin("/_standin/faults", {"latency_s": 0.4})
    ids = post_issues(stack, issue_ids)
    first = worker({**stack.env, "RESPONDER_WORKER_CONCURRENCY": "3"})  # in waves
    try:  # kill it once some comments are out and other jobs are mid-flight
        wait_until(lambda: sum(map(len, stack.notes().values())) >= 1 and "running" in stack.states(ids).values())
    finally:
        first.kill()
    stack.standin("/_standin/faults", {"latency_s": 0.0})
    second = worker(stack.env)
    try:
        stack.wait(ids, {"succeeded"}, timeout_s=60)  # after arq's lease: job timeout + 5 s margin + 10 s
    finally:
        second.stop()
    assert_one_comment_each(stack, issue_ids)


AT_DEFAULTS = ("RESPONDER_JOB_TIMEOUT_S", "RESPONDER_ISSUE_LOCK_S", "RESPONDER_RETRY_BASE_S", "RESPONDER_RETRY_MAX_S")


@pytest.mark.timeout(180)
def test_a_killed_workers_jobs_are_done_by_another_within_a_minute_at_the_defaults(stack: Stack) -> None:
    """Job timeout 30 s + arq's lease (5 s margin + 10 s) = 45 s; the issue lock (40 s) is gone by then."""
    env = {k: v for k, v in stack.env.items() if k not in AT_DEFAULTS}
    issue_ids = clone_issues(stack, 6, start=810_000)
    stack.standin("/_standin/faults", {"latency_s": 0.5})
    ids = post_issues(stack, issue_ids)
    first = worker({**env, "RESPONDER_WORKER_CONCURRENCY": "3"})
    try:
        wait_until(lambda: list(stack.states(ids).values()).count("running") >= 1)
    finally:
        first.kill()
    killed_at = time.monotonic()
    stack.standin("/_standin/faults", {"latency_s": 0.0})
    second = worker(env)
    try:
        stack.wait(ids, {"succeeded"}, timeout_s=60 - (time.monotonic() - killed_at))
    except AssertionError:
        print(first.log()[-10000:], second.log()[-20000:])
        raise
    finally:
        second.stop()
    print(f"done {time.monotonic() - killed_at:.1f} s after the kill")
    assert_one_comment_each(stack, issue_ids)


@pytest.mark.timeout(120)
def test_worker_stopped_under_load_finishes_or_requeues(stack: Stack) -> None:
    issue_ids = clone_issues(stack, 12)
    stack.standin("/_standin/faults", {"latency_s": 0.3})
    ids = post_issues(stack, issue_ids)
    first = worker({**stack.env, "RESPONDER_WORKER_CONCURRENCY": "4"})
    wait_until(lambda: "running" in stack.states(ids).values())
    first.stop(timeout_s=30)  # SIGTERM: stop taking jobs, let the running ones finish
    assert first.popen is not None and first.popen.returncode == 0, first.log()
    states = stack.states(ids)
    assert "running" not in states.values()
    assert set(states.values()) <= {"succeeded", "queued"}
    assert "queued" in states.values()  # the rest waits for the next worker
    second = worker(stack.env)
    try:
        stack.wait(ids, {"succeeded"})
    finally:
        second.stop()
    assert_one_comment_each(stack, issue_ids)


@pytest.mark.timeout(120)
def test_sentry_failing_for_a_while_jobs_retry_then_succeed_within_budget(stack: Stack) -> None:
    issue_ids = clone_issues(stack, 6)
    budget = 30
    for fault in ({"status": 500, "count": 4}, {"status": 429, "count": 2, "retry_after_s": 1},
                  {"status": 0, "count": 3}, {"status": 503, "count": 2}):
        stack.standin("/_standin/faults", fault)
    stack.standin("/_standin/faults", {"latency_s": 0.5})
    ids = post_issues(stack, issue_ids)
    w = worker({**stack.env, "RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": str(budget)})
    try:
        # Slow for a while (until a few calls met the faults), then well again.
        wait_until(lambda: stack.standin("/_standin/calls")["total"] >= 6)
        stack.standin("/_standin/faults", {"latency_s": 0.0})
        stack.wait(ids, {"succeeded"}, timeout_s=90)
    except AssertionError:
        print(w.log()[-20000:])
        raise
    finally:
        w.stop()
    assert_one_comment_each(stack, issue_ids)
    calls = stack.standin("/_standin/calls")["calls"]
    statuses = {c["status"] for c in calls}
    assert {500, 429, 0, 503} <= statuses  # every fault was met
    times = sorted(c["at"] for c in calls)
    busiest = max(sum(1 for t in times if start <= t < start + 60) for start in times)
    assert busiest <= budget


@pytest.mark.timeout(60)
def test_the_same_delivery_twenty_times_at_once_gives_one_job_and_one_comment(stack: Stack) -> None:
    request_id = uuid.uuid4().hex
    payload = copy.deepcopy(load_webhook("issue.created"))
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json", "Request-ID": request_id, "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": str(int(time.time())), "Sentry-Hook-Signature": sign(body, SECRET),
    }

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=5) as client:
            return await asyncio.gather(*(
                client.post("/webhooks/sentry", content=body, headers=headers) for _ in range(20)
            ))

    answers = asyncio.run(burst())
    assert [a.status_code for a in answers] == [202] * 20
    assert sorted(a.json()["status"] for a in answers) == ["duplicate"] * 19 + ["queued"]
    client = sync_redis.Redis.from_url(stack.redis_url)
    assert client.zcard(keys.JOBS_BY_TIME) == 1 and client.zcard(stack.env.get("RESPONDER_QUEUE_NAME", "responder:queue")) == 1
    w = worker(stack.env)
    try:
        stack.wait([request_id], {"succeeded"})
    finally:
        w.stop()
    assert_one_comment_each(stack, [payload["data"]["issue"]["id"]])


PLANTED = {
    "password": "planted-password-Zx81",
    "aws": "AKIAPLANTED0KEY12345",
    "sentry_token": "sntrys_plantedTokenInEventData0123456789",
    "dsn": "postgres://app:planted-db-pw-77@db.internal:5432/app",
}


@pytest.mark.timeout(90)
def test_a_full_run_leaks_no_secret_anywhere(stack: Stack, tmp_path: Path) -> None:
    forbidden = [DEMO_TOKEN, SECRET, "planted-password-Zx81", "AKIAPLANTED0KEY12345",
                 "sntrys_plantedTokenInEventData0123456789", "planted-db-pw-77"]

    def plant(payload: dict[str, Any]) -> None:
        error = payload["data"]["error"]
        error["extra"] = {"password": PLANTED["password"], "config": f"aws_key={PLANTED['aws']}",
                          "note": f"token {PLANTED['sentry_token']}", "db": PLANTED["dsn"]}
        error.setdefault("request", {})["headers"] = [["Authorization", f"Bearer {PLANTED['sentry_token']}"]]

    planted_id, response = stack.post("error.created", "1170820242", mutate=plant)
    assert response.status_code == 202
    ids = [planted_id, *post_issues(stack, ["1117540176", "4001"])]
    bodies = [response.text]
    # Error bodies: wrong signature, stale timestamp, bad JSON, bad shape, ops routes refused.
    base = {"Content-Type": "application/json", "Sentry-Hook-Resource": "issue", "Request-ID": "x1"}
    for headers, content in (
        (base | {"Sentry-Hook-Signature": "0" * 64, "Sentry-Hook-Timestamp": str(int(time.time()))}, b"{}"),
        (base | {"Sentry-Hook-Signature": sign(b"{}", SECRET), "Sentry-Hook-Timestamp": "1"}, b"{}"),
        (base | {"Sentry-Hook-Signature": sign(b"{x", SECRET), "Sentry-Hook-Timestamp": str(int(time.time()))}, b"{x"),
        (base | {"Sentry-Hook-Signature": sign(b'{"action":1}', SECRET),
                 "Sentry-Hook-Timestamp": str(int(time.time()))}, b'{"action":1}'),
    ):
        answer = httpx.post(stack.gateway_url + "/webhooks/sentry", content=content, headers=headers)
        assert 400 <= answer.status_code < 500
        bodies.append(answer.text)
    stack.standin("/_standin/faults", {"status": 500, "count": 1})  # an error that gets recorded
    w = worker({**stack.env, "RESPONDER_LOG_LEVEL": "DEBUG"})
    try:
        stack.wait(ids, {"succeeded"})
    finally:
        w.stop()
    for delivery_id in ids:
        bodies.append(httpx.get(f"{stack.gateway_url}/api/jobs/{delivery_id}").text)
    bodies.append(httpx.get(f"{stack.gateway_url}/api/jobs").text)

    client = sync_redis.Redis.from_url(stack.redis_url)
    records = [json.dumps({k.decode(): v.decode() for k, v in client.hgetall(key).items()})
               for key in client.scan_iter(keys.job("*"))]
    comments = [n["data"]["text"] for notes in stack.notes().values() for n in notes]
    assert comments and len(records) >= 3
    places = {"gateway log": stack.gateway_proc.log(), "worker log": w.log(), "records": "\n".join(records),
              "error bodies": "\n".join(bodies), "comments": "\n".join(comments)}
    for where, text in places.items():
        for secret in forbidden:
            assert secret not in text, f"{secret[:12]}… leaked into {where}"
