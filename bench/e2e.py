"""bench/e2e: webhooks in at a fixed rate, write-backs out, and every delivery accounted for.

Real processes on loopback: redis-server, the gateway under uvicorn, one worker and the Sentry
stand-in (20 ms a call). Signed `issue.created` deliveries, one per issue, arrive at a fixed rate
for 60 s; each should end as a comment on its issue. Printed: acknowledgement latency, the lag
from receipt to write-back (p50/p90/p99/max), and the accounting: posted = acknowledged =
recorded = succeeded = comments, nothing lost, nothing doubled. The shared Sentry budget is lifted
for the run (it bounds production throughput, not the code's).

    .venv/bin/python -m bench.e2e                  # 20 deliveries/s for 60 s
    .venv/bin/python -m bench.e2e --smoke          # 5 s (CI)
    .venv/bin/python -m bench.e2e --rate 50 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import time
from dataclasses import asdict, dataclass

import httpx
import redis as sync_redis

from bench import harness
from bench.storm import percentile, post_at_rate, system, wait_settled
from devtools.embedded_redis import EmbeddedRedis
from gateway.signature import sign
from shared import keys
from shared.jobs import JobState

FIXTURE = harness.ROOT / "standin/fixtures/sentry-webhooks/issue.created.json"
FIRST_ISSUE = 3_000_000


@dataclass
class E2EResult:
    rate_per_s: float
    seconds: float
    posted: int
    acked: int
    ack_p99_ms: float
    recorded: int
    succeeded: int
    comments: int
    lost: int
    doubled: int
    lag_p50_s: float
    lag_p90_s: float
    lag_p99_s: float
    lag_max_s: float


def run_e2e(rate: float, seconds: float, latency_s: float = 0.02) -> E2EResult:
    count = int(rate * seconds)
    template = json.loads(FIXTURE.read_text())

    def make(n: int) -> tuple[bytes, str, str]:
        payload = copy.deepcopy(template)
        payload["data"]["issue"]["id"] = str(FIRST_ISSUE + n)
        body = json.dumps(payload, separators=(",", ":")).encode()
        return body, sign(body, harness.SECRET), "issue"

    extra = {"RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": "10000000", "RESPONDER_POLL_DELAY_S": "0.05"}
    with EmbeddedRedis() as redis_server, system(redis_server.url, harness.SECRET, extra) as (gateway, standin):
        httpx.post(standin + "/_standin/faults", json={"latency_s": latency_s})
        httpx.post(standin + "/_standin/clone", json={"start": FIRST_ISSUE, "count": count})
        latencies = asyncio.run(post_at_rate(gateway, make, count, seconds))
        wait_settled(redis_server.url, count, timeout_s=300)
        client = sync_redis.Redis.from_url(redis_server.url)
        lags = []
        for key in client.scan_iter(keys.job("*"), count=1000):
            received, finished = client.hmget(key, ["received_at", "finished_at"])
            if received and finished:
                lags.append(float(finished) - float(received))
        recorded = int(client.zcard(keys.JOBS_BY_TIME))
        succeeded = int(client.zcard(keys.jobs_in_state(JobState.SUCCEEDED.value)))
        notes = httpx.get(standin + "/_standin/state").json()["notes"]
    per_issue = [len(notes.get(str(FIRST_ISSUE + n), [])) for n in range(count)]
    return E2EResult(
        rate_per_s=rate, seconds=seconds, posted=count, acked=len(latencies),
        ack_p99_ms=round(percentile(latencies, 99) * 1000, 2), recorded=recorded, succeeded=succeeded,
        comments=sum(per_issue), lost=sum(1 for n in per_issue if n == 0), doubled=sum(1 for n in per_issue if n > 1),
        lag_p50_s=round(percentile(lags, 50), 3), lag_p90_s=round(percentile(lags, 90), 3),
        lag_p99_s=round(percentile(lags, 99), 3), lag_max_s=round(max(lags), 3),
    )


def report(r: E2EResult) -> str:
    rows = [
        ("load", f"{r.posted:,} signed issue.created, one per issue, {r.rate_per_s:g}/s for {r.seconds:g} s"),
        ("acknowledged", f"{r.acked:,} (p99 {r.ack_p99_ms} ms)"),
        ("accounted", f"recorded {r.recorded:,}  succeeded {r.succeeded:,}  comments {r.comments:,}  "
                      f"lost {r.lost}  doubled {r.doubled}"),
        ("receipt → write-back", f"p50 {r.lag_p50_s} s  p90 {r.lag_p90_s} s  p99 {r.lag_p99_s} s  max {r.lag_max_s} s"),
    ]
    return harness.table(rows, align="rl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="5 s, to prove it works")
    parser.add_argument("--rate", type=float, default=20.0, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.smoke else 60.0)
    started = time.monotonic()
    result = run_e2e(args.rate, seconds)
    print(report(result))
    print(f"(run took {time.monotonic() - started:.0f} s)")
    print(f"results appended to {harness.record('e2e', asdict(result), args.smoke)}")
    if result.lost or result.doubled or result.acked != result.posted:
        raise SystemExit("deliveries were lost or doubled")


if __name__ == "__main__":
    main()
