"""Throughput and latency over the last hour, in minute buckets: pure arithmetic over records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel

from shared.jobs import JobState

BUCKET_S = 60
WINDOW_S = 3600
FINISHED_RUNS = frozenset({JobState.SUCCEEDED.value, JobState.FAILED.value, JobState.DEAD.value})


class Bucket(BaseModel):
    start: float
    received: int = 0
    finished: int = 0
    p50_s: float | None = None
    p95_s: float | None = None


class Window(BaseModel):
    buckets: list[Bucket]
    received: int
    finished: int
    by_resource: dict[str, int]
    p50_s: float | None
    p95_s: float | None


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))], 4)


def window(rows: Iterable[dict[str, str]], now_s: float, window_s: int = WINDOW_S) -> Window:
    """Deliveries received per minute, and for the jobs that ran, time from receipt to finish."""
    first = int((now_s - window_s) // BUCKET_S) * BUCKET_S + BUCKET_S
    count = window_s // BUCKET_S
    received = [0] * count
    finished = [0] * count
    latencies: list[list[float]] = [[] for _ in range(count)]
    by_resource: Counter[str] = Counter()
    for row in rows:
        got = float(row.get("received_at") or 0)
        if got >= first:
            received[min(int((got - first) // BUCKET_S), count - 1)] += 1
            by_resource[row.get("resource") or "?"] += 1
        done = row.get("finished_at")
        if done and row.get("state") in FINISHED_RUNS and float(done) >= first:
            slot = min(int((float(done) - first) // BUCKET_S), count - 1)
            finished[slot] += 1
            latencies[slot].append(float(done) - got)
    buckets = [
        Bucket(start=first + i * BUCKET_S, received=received[i], finished=finished[i],
               p50_s=percentile(latencies[i], 50), p95_s=percentile(latencies[i], 95))
        for i in range(count)
    ]
    every = [v for slot in latencies for v in slot]
    return Window(
        buckets=buckets, received=sum(received), finished=sum(finished), by_resource=dict(by_resource),
        p50_s=percentile(every, 50), p95_s=percentile(every, 95),
    )
