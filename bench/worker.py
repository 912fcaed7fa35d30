"""bench/worker: the worker against its ceiling, a bare arq job making the same Sentry calls.

Real processes on loopback: redis-server, the Sentry stand-in with an added latency per call
(default 20 ms, as a nearby Sentry answers), and worker processes. N real-looking `issue.created`
deliveries, one per issue (so nothing coalesces), are queued as the gateway queues them; then:

- flat out: jobs/s, Sentry calls per job, peak RSS, with 1 and 2 worker processes;
- at half that rate: time from enqueue to write-back, p50/p99;
- the ceiling: an arq worker whose job only makes the same number of httpx calls to the same
  stand-in, no Redis records, no analysis.

The shared Sentry budget is lifted for the run (it bounds production, not the code's speed).

    .venv/bin/python -m bench.worker              # 2,000 jobs (~1 minute)
    .venv/bin/python -m bench.worker --smoke      # 100 jobs (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import httpx
import redis as sync_redis
from redis.asyncio import Redis

from bench import harness
from devtools.embedded_redis import EmbeddedRedis
from gateway.intake import Trust, take
from gateway.signature import sign
from shared import keys
from shared.jobs import JobState
from shared.queue import DeliveryQueue, Intake
from standin.app import DEMO_TOKEN

FIXTURE = harness.ROOT / "standin/fixtures/sentry-webhooks/issue.created.json"
FIRST_ISSUE = 2_000_000
CEILING_DONE = "bench:ceiling:done"
CEILING_READY = "bench:ceiling:ready"


@dataclass
class Run:
    processes: int
    jobs: int
    seconds: float
    jobs_per_s: float
    sentry_calls_per_job: float
    peak_rss_mb: float
    p50_s: float | None = None
    p99_s: float | None = None


def intakes(count: int, start: int) -> list[Intake]:
    template = json.loads(FIXTURE.read_text())
    out = []
    now = time.time()
    for n in range(start, start + count):
        payload = copy.deepcopy(template)
        payload["data"]["issue"]["id"] = str(n)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"sentry-hook-resource": "issue", "request-id": uuid.uuid4().hex,
                   "sentry-hook-timestamp": str(int(now)), "sentry-hook-signature": sign(body, harness.SECRET)}
        item = take(body, headers, Trust([harness.SECRET], 300), now)
        assert isinstance(item, Intake)
        out.append(item)
    return out


async def enqueue(redis_url: str, items: list[Intake], rate_per_s: float | None = None) -> None:
    """Queue deliveries as the gateway does: all at once, or one by one at a fixed rate."""
    redis = Redis.from_url(redis_url)
    queue = DeliveryQueue(redis, keys.QUEUE, keys.HOUR_S)
    try:
        if rate_per_s is None:
            for i in range(0, len(items), 256):
                await queue.submit_many(items[i : i + 256])
            return
        start = time.perf_counter()
        for n, item in enumerate(items):
            delay = start + n / rate_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            item.delivery.received_at = time.time()
            await queue.submit_many([item])
    finally:
        await redis.aclose()


def wait_done(redis_url: str, count: int, timeout_s: float = 600) -> None:
    client = sync_redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    busy = [keys.jobs_in_state(s.value) for s in (JobState.QUEUED, JobState.RUNNING, JobState.RETRYING)]
    while client.zcard(keys.jobs_in_state("succeeded")) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker bench stuck: {[client.zcard(k) for k in busy]}")
        time.sleep(0.02)


def wait_ready(redis_url: str, processes: int, timeout_s: float = 120) -> None:
    """Until every worker process has started and reported its heartbeat."""
    client = sync_redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout_s
    while client.hlen(keys.WORKER_HEARTBEATS) < processes:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        time.sleep(0.02)


def lags(redis_url: str) -> list[float]:
    client = sync_redis.Redis.from_url(redis_url)
    out = []
    for key in client.scan_iter(keys.job("*"), count=1000):
        received, finished = client.hmget(key, ["received_at", "finished_at"])
        if received and finished:
            out.append(float(finished) - float(received))
    return out


def sentry_calls(standin: str) -> int:
    total: int = httpx.get(standin + "/_standin/calls").json()["total"]
    return total


@contextlib.contextmanager
def workers(env: dict[str, str], processes: int, args: list[str] | None = None) -> Iterator[list[int]]:
    with contextlib.ExitStack() as stack:
        pids = []
        for n in range(processes):
            proc = stack.enter_context(
                harness.process([*harness.pin(1 + n), sys.executable, *(args or ["-m", "cli.main", "worker"])], env)
            )
            pids.append(proc.pid)
        yield pids


class PeakRss:
    """Samples the summed RSS of some processes while a run goes on (VmHWM per process is the peak)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak = pids, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, sum(harness.rss_mb(p) for p in self.pids))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, sum(harness.rss_mb(p) for p in self.pids))


def flat_out(redis_url: str, standin: str, env: dict[str, str], count: int, processes: int, start: int) -> Run:
    sync_redis.Redis.from_url(redis_url).flushdb()
    httpx.post(standin + "/_standin/reset")
    httpx.post(standin + "/_standin/clone", json={"start": start, "count": count})
    calls_before = sentry_calls(standin)
    items = intakes(count, start)
    with workers(env, processes) as pids:
        wait_ready(redis_url, processes)
        watch = PeakRss(pids)
        began = time.perf_counter()
        asyncio.run(enqueue(redis_url, items))
        wait_done(redis_url, count)
        seconds = time.perf_counter() - began
        rss = watch.stop()
    calls = sentry_calls(standin) - calls_before
    return Run(processes, count, round(seconds, 2), round(count / seconds, 1), round(calls / count, 2), round(rss, 1))


def at_rate(redis_url: str, standin: str, env: dict[str, str], count: int, rate: float, start: int) -> Run:
    sync_redis.Redis.from_url(redis_url).flushdb()
    httpx.post(standin + "/_standin/reset")
    httpx.post(standin + "/_standin/clone", json={"start": start, "count": count})
    items = intakes(count, start)
    with workers(env, 1) as pids:
        wait_ready(redis_url, 1)
        watch = PeakRss(pids)
        began = time.perf_counter()
        asyncio.run(enqueue(redis_url, items, rate_per_s=rate))
        wait_done(redis_url, count)
        seconds = time.perf_counter() - began
        rss = watch.stop()
    got = sorted(lags(redis_url))
    return Run(1, count, round(seconds, 2), round(count / seconds, 1), 0.0, round(rss, 1),
               p50_s=round(statistics.median(got), 3), p99_s=round(got[min(len(got) - 1, int(len(got) * 0.99))], 3))


def ceiling(redis_url: str, standin: str, count: int, calls_per_job: int, concurrency: int) -> Run:
    """A bare arq job: the same number of httpx calls to the same stand-in, nothing else."""
    from arq import create_pool
    from arq.connections import RedisSettings

    async def fill() -> None:
        pool = await create_pool(RedisSettings.from_dsn(redis_url))
        for n in range(count):
            await pool.enqueue_job("bare_job", n)
        await pool.aclose()

    sync_redis.Redis.from_url(redis_url).flushdb()
    env = {"BENCH_REDIS_URL": redis_url, "BENCH_STANDIN": standin, "BENCH_CALLS": str(calls_per_job),
           "BENCH_CONCURRENCY": str(concurrency), "BENCH_TOKEN": DEMO_TOKEN}
    client = sync_redis.Redis.from_url(redis_url)
    with workers(env, 1, ["-m", "bench.bare_arq"]) as pids:
        while not client.get(CEILING_READY):
            time.sleep(0.02)
        watch = PeakRss(pids)
        began = time.perf_counter()
        asyncio.run(fill())
        while int(client.get(CEILING_DONE) or 0) < count:
            time.sleep(0.02)
        seconds = time.perf_counter() - began
        rss = watch.stop()
    return Run(1, count, round(seconds, 2), round(count / seconds, 1), float(calls_per_job), round(rss, 1))


def record_memory(redis_url: str) -> float:
    """Bytes of Redis memory per retained job record (after a flat-out run)."""
    client = sync_redis.Redis.from_url(redis_url)
    records = client.zcard(keys.JOBS_BY_TIME)
    sample = [k for _, k in zip(range(200), client.scan_iter(keys.job("*")), strict=False)]
    per = [client.memory_usage(k) or 0 for k in sample]
    index = (client.memory_usage(keys.JOBS_BY_TIME) or 0) / max(records, 1)
    return round(statistics.mean(per) + 2 * index, 0) if per else 0.0


def run(smoke: bool, latency_s: float) -> dict[str, object]:
    count = 100 if smoke else 2000
    concurrency = 20
    figures: dict[str, object] = {"latency_s": latency_s, "concurrency": concurrency}
    with EmbeddedRedis() as redis_server, tempfile.TemporaryDirectory() as spool, harness.uvicorn(
        "standin.app:app_from_env", {"STANDIN_LATENCY_S": str(latency_s)}, core=0
    ) as standin:
        env = {
            "SENTRY_CLIENT_SECRET": harness.SECRET, "REDIS_URL": redis_server.url,
            "SENTRY_BASE_URL": standin + "/api/0/", "SENTRY_AUTH_TOKEN": DEMO_TOKEN,
            "SENTRY_ORGANIZATION": "demo-org", "RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": "10000000",
            "RESPONDER_WORKER_CONCURRENCY": str(concurrency), "RESPONDER_LOG_LEVEL": "WARNING",
            "RESPONDER_LOG_FORMAT": "json", "RESPONDER_SPOOL_DIR": spool, "RESPONDER_WORKER_METRICS_PORT": "0",
            "RESPONDER_POLL_DELAY_S": "0.05",
        }
        one = flat_out(redis_server.url, standin, env, count, 1, FIRST_ISSUE)
        figures["record_bytes"] = record_memory(redis_server.url)
        two = flat_out(redis_server.url, standin, env, count, 2, FIRST_ISSUE + count)
        half = at_rate(redis_server.url, standin, env, count // 2, one.jobs_per_s / 2, FIRST_ISSUE + 2 * count)
        bare = ceiling(redis_server.url, standin, count, round(one.sentry_calls_per_job), concurrency)
    figures |= {"one": asdict(one), "two": asdict(two), "half_rate": asdict(half), "ceiling": asdict(bare),
                "ratio": round(one.jobs_per_s / bare.jobs_per_s, 3), "scale": round(two.jobs_per_s / one.jobs_per_s, 2)}
    rows = [("run", "procs", "jobs", "jobs/s", "calls/job", "p50 s", "p99 s", "peak RSS MB")]
    for name, r in (("worker", one), ("worker", two), ("worker @ half", half), ("bare arq (ceiling)", bare)):
        rows.append((name, str(r.processes), str(r.jobs), f"{r.jobs_per_s:,.1f}", f"{r.sentry_calls_per_job:.2f}",
                     "" if r.p50_s is None else f"{r.p50_s:.3f}", "" if r.p99_s is None else f"{r.p99_s:.3f}",
                     f"{r.peak_rss_mb:.0f}"))
    print(harness.table(rows))
    print(f"worker / ceiling: {figures['ratio']:.0%}   2 processes / 1: {figures['scale']}x   "
          f"Sentry latency {latency_s * 1000:.0f} ms   Redis per job record: {figures['record_bytes']:.0f} B")
    print(f"results appended to {harness.record('worker', figures, smoke)}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="100 jobs, to prove it works")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added latency per Sentry call")
    args = parser.parse_args()
    run(args.smoke, args.latency_ms / 1000)


if __name__ == "__main__":
    main()
