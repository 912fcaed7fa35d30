"""Slow clients: how fast the gateway acknowledges Sentry's deliveries while stalled uploads hold
connections open, and what they cost it in memory (issue 18, finding 7; Sentry's timeout is 1 s).

    python -m bench.slow_clients            # 150 stalled ~1 MB uploads, 100 signed deliveries
    python -m bench.slow_clients --smoke    # 20 stalled, 10 deliveries, a few seconds

The gateway runs as `sentry-responder gateway` with its defaults (body deadline, connection limit,
body budget); the stalled uploads send 900 KB of a declared 1 MB body and stop. Deliveries are
posted one at a time while the stalled uploads are open; each latency is measured from the
client's side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import httpx

from bench import harness
from devtools.embedded_redis import EmbeddedRedis
from devtools.processes import free_port, wait_http


@dataclass
class Result:
    stalled: int
    deliveries: int
    acknowledged: int
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    stalled_closed_s: float
    rss_baseline_mb: float
    rss_peak_mb: float


async def stall(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /webhooks/sentry HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Sentry-Hook-Resource: issue\r\nContent-Length: 1000000\r\n\r\n"
    )
    writer.write(head.encode() + b"x" * 900_000)
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(writer.drain(), 2)
    return reader, writer


async def until_closed(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


async def measure(port: int, pid: int, stalled_count: int, deliveries: int) -> Result:
    url = f"http://127.0.0.1:{port}"
    bodies = harness.webhook_bodies(deliveries)
    baseline = harness.rss_mb(pid)
    opened = time.monotonic()
    stalled = await asyncio.gather(*(stall(port) for _ in range(stalled_count)))
    closing = [asyncio.create_task(until_closed(reader)) for reader, _ in stalled]
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for raw, signature in bodies:
            headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": "error",
                       "Sentry-Hook-Timestamp": str(int(time.time())), "Sentry-Hook-Signature": signature}
            started = time.perf_counter()
            response = await client.post(url + "/webhooks/sentry", content=raw, headers=headers)
            if response.status_code == 202:
                latencies.append(time.perf_counter() - started)
    await asyncio.gather(*closing)
    closed_s = time.monotonic() - opened
    for _, writer in stalled:
        writer.close()
    ordered = sorted(latencies) or [float("nan")]
    return Result(
        stalled=stalled_count, deliveries=deliveries, acknowledged=len(latencies),
        ack_p50_ms=round(statistics.median(ordered) * 1000, 1),
        ack_p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        ack_max_ms=round(ordered[-1] * 1000, 1), stalled_closed_s=round(closed_s, 1),
        rss_baseline_mb=round(baseline, 1), rss_peak_mb=round(harness.rss_mb(pid), 1),
    )


def run(stalled: int, deliveries: int, body_timeout_s: float) -> Result:
    port = free_port()
    with EmbeddedRedis() as redis_server, contextlib.ExitStack() as stack:
        env = {"SENTRY_CLIENT_SECRET": harness.SECRET, "REDIS_URL": redis_server.url,
               "RESPONDER_SPOOL_DIR": stack.enter_context(tempfile.TemporaryDirectory()) + "/spool",
               "RESPONDER_BODY_TIMEOUT_S": str(body_timeout_s), "RESPONDER_LOG_LEVEL": "WARNING"}
        proc = stack.enter_context(harness.process(
            [sys.executable, "-m", "cli.main", "gateway", "--host", "127.0.0.1", "--port", str(port)], env))
        wait_http(f"http://127.0.0.1:{port}/healthz", child=proc)
        return asyncio.run(measure(port, proc.pid, stalled, deliveries))


def report(result: Result) -> str:
    return harness.table([
        ("stalled uploads", "deliveries", "acknowledged", "ack p50 ms", "ack p99 ms", "ack max ms",
         "stalled closed after s", "RSS MB (baseline -> peak)"),
        (str(result.stalled), str(result.deliveries), str(result.acknowledged), str(result.ack_p50_ms),
         str(result.ack_p99_ms), str(result.ack_max_ms), str(result.stalled_closed_s),
         f"{result.rss_baseline_mb} -> {result.rss_peak_mb}"),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, to prove it works")
    args = parser.parse_args()
    started = time.monotonic()
    result = run(20, 10, 3.0) if args.smoke else run(150, 100, 10.0)
    print(report(result))
    print(f"(run took {time.monotonic() - started:.0f} s; Sentry's webhook timeout is 1000 ms)")
    print(f"results appended to {harness.record('slow_clients', asdict(result), args.smoke)}")


if __name__ == "__main__":
    main()
