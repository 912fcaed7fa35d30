"""bench/storm: a bad deploy's storm of `error.created` for a handful of issues, end to end.

Real processes on loopback: redis-server, the gateway under uvicorn, one worker, and the Sentry
stand-in counting every API call. The storm is posted at a fixed rate, each delivery signed and
with its own Request-ID, as Sentry would send it. What matters is printed: how fast every delivery
was acknowledged, that each was recorded, and how little of Sentry's budget the storm cost.

    .venv/bin/python -m bench.storm              # 10,000 deliveries for 5 issues in 20 s
    .venv/bin/python -m bench.storm --smoke      # 1,000 in 4 s (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import aiohttp
import httpx
import redis as sync_redis

from bench import harness
from gateway.signature import sign
from shared import keys
from shared.embedded_redis import EmbeddedRedis
from shared.jobs import JobState
from standin.app import DEMO_TOKEN

STORM_ISSUES = ("1170820242", "1117540176", "4001", "4002", "4003")  # seeded in the stand-in
FIXTURE = harness.ROOT / "standin/fixtures/sentry-webhooks/error.created.json"
STALE_CONNECTION_RETRIES = 2


@dataclass
class StormResult:
    deliveries: int
    issues: int
    post_s: float
    acked: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    recorded: int
    settle_s: float
    analyses: int
    coalesced: int
    comments: int
    comments_per_issue: dict[str, int]
    sentry_calls: int
    sentry_calls_by_endpoint: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)


def storm_bodies(issue_ids: tuple[str, ...], secret: str, count: int) -> list[tuple[bytes, str]]:
    """`count` signed `error.created` bodies spread over the issues, each a new event (its own
    event_id, as Sentry sends them: the gateway drops a byte-identical body as a replay)."""
    template = json.loads(FIXTURE.read_text())
    out = []
    for n in range(count):
        template["data"]["error"]["issue_id"] = issue_ids[n % len(issue_ids)]
        template["data"]["error"]["event_id"] = uuid.uuid4().hex
        raw = json.dumps(template, separators=(",", ":")).encode()
        out.append((raw, sign(raw, secret)))
    return out


async def post_storm(url: str, bodies: list[tuple[bytes, str]], count: int, seconds: float) -> list[float]:
    return await post_at_rate(url, lambda n: (*bodies[n % len(bodies)], "error"), count, seconds)


async def post_at_rate(
    url: str, make: Callable[[int], tuple[bytes, str, str]], count: int, seconds: float
) -> list[float]:
    """Post `count` signed deliveries at a fixed rate over `seconds`, each with its own
    Request-ID; `make(n)` gives the n-th body, signature and resource. The latency of each 202, in s."""
    latencies: list[float] = []
    failures: list[str] = []
    timestamp = str(int(time.time()))
    run = uuid.uuid4().hex[:12]
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(n: int) -> None:
            body, signature, resource = make(n)
            headers = {
                "Content-Type": "application/json", "Sentry-Hook-Resource": resource,
                "Sentry-Hook-Timestamp": timestamp, "Sentry-Hook-Signature": signature,
                "Request-ID": f"{run}-{n:06d}",
            }
            for retries_left in reversed(range(STALE_CONNECTION_RETRIES + 1)):
                began = time.perf_counter()
                try:
                    async with session.post(url + "/webhooks/sentry", data=body, headers=headers) as response:
                        await response.read()
                        if response.status != 202:
                            failures.append(f"{response.status}")
                            return
                    break
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                    # A pooled keep-alive connection the server closed just as it was reused (a
                    # client-side race on a busy machine). The same Request-ID makes a resend safe:
                    # the gateway takes a delivery once however often it is sent.
                    if not retries_left:
                        raise
            latencies.append(time.perf_counter() - began)

        start = time.perf_counter()
        tasks = []
        for n in range(count):
            delay = start + n * seconds / count - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(n)))
        await asyncio.gather(*tasks)
    if failures:
        raise RuntimeError(f"{len(failures)} deliveries not acknowledged: {sorted(set(failures))}")
    return latencies


def wait_settled(redis_url: str, count: int, timeout_s: float) -> float:
    """Until every delivery is recorded and no job is waiting or running; the time it took."""
    client = sync_redis.Redis.from_url(redis_url)
    started = time.monotonic()
    busy = [keys.jobs_in_state(s.value) for s in (JobState.QUEUED, JobState.RUNNING, JobState.RETRYING)]
    while True:
        recorded = client.zcard(keys.JOBS_BY_TIME)
        if recorded >= count and sum(client.zcard(k) for k in busy) == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"storm did not settle: {recorded}/{count} recorded")
        time.sleep(0.1)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


@contextlib.contextmanager
def system(redis_url: str, secret: str, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """Stand-in, gateway and one worker, as `sentry-responder` runs them; yields both URLs."""
    with (
        tempfile.TemporaryDirectory(prefix="storm-spool-") as spool_dir,
        harness.uvicorn("standin.app:app_from_env", {"STANDIN_ORGANIZATION": "demo-org"}, core=1) as standin,
    ):
        env = {
            "SENTRY_CLIENT_SECRET": secret, "REDIS_URL": redis_url, "SENTRY_BASE_URL": standin + "/api/0/",
            "SENTRY_AUTH_TOKEN": DEMO_TOKEN, "SENTRY_ORGANIZATION": "demo-org",
            "RESPONDER_LOG_LEVEL": "WARNING", "RESPONDER_LOG_FORMAT": "json",
            "RESPONDER_SPOOL_DIR": spool_dir, "RESPONDER_WORKER_METRICS_PORT": "0", **(extra_env or {}),
        }
        with harness.uvicorn("gateway.app:app_from_env", env, core=0) as gateway, harness.process(
            [sys.executable, "-m", "cli.main", "worker"], env
        ):
            yield gateway, standin


def run_storm(deliveries: int, issue_ids: tuple[str, ...], seconds: float, secret: str) -> StormResult:
    with EmbeddedRedis() as redis_server, system(redis_server.url, secret) as (gateway, standin):
        bodies = storm_bodies(issue_ids, secret, deliveries)
        began = time.perf_counter()
        latencies = asyncio.run(post_storm(gateway, bodies, deliveries, seconds))
        post_s = time.perf_counter() - began
        settle_s = wait_settled(redis_server.url, deliveries, timeout_s=120)
        calls = httpx.get(standin + "/_standin/calls").json()
        notes = httpx.get(standin + "/_standin/state").json()["notes"]
        states = {
            s.value: int(sync_redis.Redis.from_url(redis_server.url).zcard(keys.jobs_in_state(s.value)))
            for s in JobState
        }
    per_issue = {issue: len(notes.get(issue, [])) for issue in issue_ids}
    return StormResult(
        deliveries=deliveries, issues=len(issue_ids), post_s=round(post_s, 2), acked=len(latencies),
        p50_ms=round(statistics.median(latencies) * 1000, 2), p99_ms=round(percentile(latencies, 99) * 1000, 2),
        max_ms=round(max(latencies) * 1000, 2), recorded=sum(states.values()), settle_s=round(settle_s, 2),
        analyses=sum(n for s, n in states.items() if s not in ("coalesced", "skipped")),
        coalesced=states["coalesced"], comments=sum(per_issue.values()), comments_per_issue=per_issue,
        sentry_calls=calls["total"], sentry_calls_by_endpoint=calls["by_endpoint"], states=states,
    )


def report(result: StormResult) -> str:
    rows = [
        ("deliveries", f"{result.deliveries:,} for {result.issues} issues in {result.post_s} s"),
        ("acknowledged", f"{result.acked:,}  p50 {result.p50_ms} ms  p99 {result.p99_ms} ms  max {result.max_ms} ms"),
        ("recorded", f"{result.recorded:,} ({result.coalesced:,} coalesced), settled {result.settle_s} s after"),
        ("analyses", str(result.analyses)),
        ("comments", f"{result.comments} {result.comments_per_issue}"),
        ("Sentry calls", f"{result.sentry_calls} {result.sentry_calls_by_endpoint}"),
        ("calls/analysis", f"{result.sentry_calls / max(result.analyses, 1):.1f} (issue, enrichments, write-back)"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.rjust(width)}  {value}" for name, value in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="1,000 deliveries in 4 s, to prove it works")
    parser.add_argument("--deliveries", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    deliveries = args.deliveries or (1000 if args.smoke else 10_000)
    seconds = args.seconds or (4.0 if args.smoke else 20.0)
    os.environ.setdefault("RESPONDER_LOG_LEVEL", "WARNING")
    result = run_storm(deliveries, STORM_ISSUES, seconds, harness.SECRET)
    print(report(result))
    print(f"results appended to {harness.record('storm', asdict(result), args.smoke)}")


if __name__ == "__main__":
    main()
