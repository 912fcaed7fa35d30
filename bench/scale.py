"""bench/scale: more processes against one Redis, as on several hosts.

Real processes on loopback: one redis-server, the Sentry stand-in (100 ms a call by default, where
Sentry's latency and not this machine's two cores bounds a worker), and:

- gateways: 1 and 2 gateway servers, each its own process and spool (as on two hosts), driven
  together by wrk with signed 4 KB deliveries: deliveries/s taken;
- workers: 1, 2 and 4 worker processes emptying the same queue of `issue.created` jobs (one per
  issue): jobs/s (the Sentry budget lifted, as it bounds production, not the code);
- the budget: 4 workers with a Sentry budget of B calls a minute and more work than it allows:
  the calls all workers made together in the busiest 60 s window, which must not exceed B.

    .venv/bin/python -m bench.scale              # ~2 minutes
    .venv/bin/python -m bench.scale --smoke      # ~30 s (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

import httpx
import redis as sync_redis

from bench import harness
from bench.worker import FIRST_ISSUE, enqueue, flat_out, intakes, wait_ready, workers
from devtools.embedded_redis import EmbeddedRedis
from standin.app import DEMO_TOKEN


@dataclass
class Budget:
    workers: int
    budget_per_min: int
    seconds: float
    calls: int
    calls_span_s: float
    busiest_60s: int


def gateways_flat_out(redis_url: str, count: int, seconds: float, connections: int) -> float:
    """Deliveries per second taken by `count` gateway servers together, each with its own spool."""
    bodies = harness.webhook_bodies(256)
    with contextlib.ExitStack() as stack:
        urls = []
        for n in range(count):
            spool = stack.enter_context(tempfile.TemporaryDirectory(prefix="scale-spool-"))
            env = {
                "SENTRY_CLIENT_SECRET": harness.SECRET, "REDIS_URL": redis_url, "RESPONDER_SPOOL_DIR": spool,
                "RESPONDER_LOG_LEVEL": "WARNING", "RESPONDER_LOG_FORMAT": "json",
            }
            urls.append(stack.enter_context(harness.uvicorn("gateway.app:app_from_env", env, core=n)))
        results: list[harness.LoadResult] = []

        def drive(url: str, core: int) -> None:
            results.append(harness.wrk(url, seconds, max(1, connections // count), core, bodies))

        threads = [threading.Thread(target=drive, args=(url, n + 1)) for n, url in enumerate(urls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if any(r.errors for r in results):
        raise RuntimeError(f"gateway errors: {[r.errors for r in results]}")
    return sum(r.requests_per_s for r in results)


def budget_held(redis_url: str, standin: str, env: dict[str, str], processes: int, budget: int,
                seconds: float) -> Budget:
    """Many workers, more work than the budget allows: count what reached Sentry."""
    sync_redis.Redis.from_url(redis_url).flushdb()
    httpx.post(standin + "/_standin/reset")
    jobs = budget * 2  # about six calls a job's worth of budget: far more than one minute allows
    start = FIRST_ISSUE + 500_000
    httpx.post(standin + "/_standin/clone", json={"start": start, "count": jobs})
    limited = env | {"RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": str(budget)}
    with workers(limited, processes):  # on leaving, running jobs finish: their calls count too
        wait_ready(redis_url, processes)
        began = time.time()
        asyncio.run(enqueue(redis_url, intakes(jobs, start)))
        time.sleep(seconds)
    calls = [c["at"] for c in httpx.get(standin + "/_standin/calls").json()["calls"] if c["at"] >= began]
    times = sorted(calls)
    busiest = max((sum(1 for t in times if s <= t < s + 60) for s in times), default=0)
    span_s = round(times[-1] - times[0], 1) if times else 0.0
    return Budget(processes, budget, seconds, len(times), span_s, busiest)


def run(smoke: bool, latency_s: float) -> dict[str, object]:
    jobs = 60 if smoke else 800
    gateway_s = 2 if smoke else 10
    figures: dict[str, object] = {"latency_s": latency_s}
    with EmbeddedRedis() as redis_server, tempfile.TemporaryDirectory() as spool, harness.uvicorn(
        "standin.app:app_from_env", {"STANDIN_LATENCY_S": str(latency_s)}, core=0
    ) as standin:
        gateway_rates = {n: gateways_flat_out(redis_server.url, n, gateway_s, 16 if smoke else 64) for n in (1, 2)}
        env = {
            "SENTRY_CLIENT_SECRET": harness.SECRET, "REDIS_URL": redis_server.url,
            "SENTRY_BASE_URL": standin + "/api/0/", "SENTRY_AUTH_TOKEN": DEMO_TOKEN,
            "SENTRY_ORGANIZATION": "demo-org", "RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": "10000000",
            "RESPONDER_WORKER_CONCURRENCY": "20", "RESPONDER_LOG_LEVEL": "WARNING",
            "RESPONDER_LOG_FORMAT": "json", "RESPONDER_SPOOL_DIR": spool, "RESPONDER_WORKER_METRICS_PORT": "0",
            "RESPONDER_POLL_DELAY_S": "0.05",
        }
        worker_runs = {
            n: flat_out(redis_server.url, standin, env, jobs, n, FIRST_ISSUE + 100_000 * n) for n in (1, 2, 4)
        }
        budget = budget_held(redis_server.url, standin, env, 4, 30 if smoke else 120, 6 if smoke else 30)
    rows: list[tuple[str, ...]] = [("processes", "gateways: deliveries/s", "vs 1", "workers: jobs/s", "vs 1")]
    for n in (1, 2, 4):
        rate = gateway_rates.get(n)
        gateway = (f"{rate:,.0f}", f"{rate / gateway_rates[1]:.2f}x") if rate else ("", "")
        rows.append((str(n), *gateway, f"{worker_runs[n].jobs_per_s:,.1f}",
                     f"{worker_runs[n].jobs_per_s / worker_runs[1].jobs_per_s:.2f}x"))
    print(harness.table(rows))
    print(f"Sentry latency {latency_s * 1000:.0f} ms a call, {jobs} jobs a run; one Redis for all")
    print(f"budget: {budget.workers} workers, {budget.budget_per_min} calls/min shared, work queued for "
          f"{budget.seconds:g} s: {budget.calls} calls over {budget.calls_span_s:g} s, busiest 60 s window "
          f"{budget.busiest_60s} "
          f"({'held' if budget.busiest_60s <= budget.budget_per_min else 'EXCEEDED'})")
    figures |= {"gateways": {str(n): round(r, 1) for n, r in gateway_rates.items()},
                "workers": {str(n): asdict(r) for n, r in worker_runs.items()}, "budget": asdict(budget)}
    print(f"results appended to {harness.record('scale', figures, smoke)}")
    if budget.busiest_60s > budget.budget_per_min:
        raise SystemExit("the shared Sentry budget was exceeded")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="~30 s, to prove it works")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="added latency per Sentry call")
    args = parser.parse_args()
    run(args.smoke, args.latency_ms / 1000)


if __name__ == "__main__":
    main()
