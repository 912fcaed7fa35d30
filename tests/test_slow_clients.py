"""Slow clients against a real gateway process (issue 18, finding 7): 150 uploads of about 1 MB
that stall part-way while a real signed delivery arrives. The delivery is acknowledged, every
stalled upload is answered and closed by the body deadline, and memory stays bounded.

No latency is asserted beyond what a loaded two-core box meets: the acknowledgement gets a few
seconds (Sentry's own timeout is 1 s; `bench/` measures the figure, this test only proves the
stalled uploads do not hold it up until their deadline)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import httpx
import pytest

from devtools.embedded_redis import EmbeddedRedis
from devtools.processes import free_port
from tests.helpers import SECRET, delivery
from tests.processes import Proc, wait_http

STALLED = 150
DECLARED_BYTES = 1_000_000
SENT_BYTES = 900_000
BODY_TIMEOUT_S = 20  # the acknowledgement gets half of it: seconds to spare on a loaded two-core box
BUFFER_BYTES = 16 * 1024 * 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def stall(port: int, sent_bytes: int = SENT_BYTES) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /webhooks/sentry HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Sentry-Hook-Resource: issue\r\nContent-Length: {DECLARED_BYTES}\r\n\r\n"
    )
    writer.write(head.encode() + b"x" * sent_bytes)
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(writer.drain(), 2)  # the server may stop reading: that is its right
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """What the server answered before closing (b"" if it closed without a word)."""
    answer = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            answer += chunk
    return answer


@pytest.mark.timeout(120)
async def test_stalled_uploads_neither_block_a_delivery_nor_stay_open(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    port = free_port()
    env = {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": redis_server.url, "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"),
           "RESPONDER_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S), "RESPONDER_BODY_BUFFER_BYTES": str(BUFFER_BYTES),
           "RESPONDER_LOG_LEVEL": "WARNING"}
    proc = Proc(["-m", "cli.main", "gateway", "--host", "127.0.0.1", "--port", str(port)], env).start()
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_http, url + "/healthz")
        assert proc.popen is not None
        baseline_mb = rss_mb(proc.popen.pid)
        opened_at = time.monotonic()
        stalled = await asyncio.gather(*(stall(port) for _ in range(STALLED)))
        peak_mb = rss_mb(proc.popen.pid)

        body, headers = delivery("issue.created")
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=BODY_TIMEOUT_S / 2) as client:
            response = await client.post(url + "/webhooks/sentry", content=body, headers=headers)
        acknowledged_s = time.monotonic() - started
        assert response.status_code == 202, response.text
        print(f"\nsigned delivery acknowledged in {acknowledged_s * 1000:.0f} ms with {STALLED} stalled uploads open")

        waits = [asyncio.create_task(closed_by_server(reader)) for reader, _ in stalled]
        while not all(w.done() for w in waits):
            peak_mb = max(peak_mb, rss_mb(proc.popen.pid))
            assert time.monotonic() - opened_at < BODY_TIMEOUT_S + 40, "stalled uploads still open long past their deadline"
            await asyncio.sleep(0.2)
        answers = [w.result() for w in waits]
        statuses = sorted({a.split(b" ", 2)[1].decode() for a in answers if a.startswith(b"HTTP/1.1 ")})
        print(f"stalled uploads answered {statuses}; gateway RSS {baseline_mb:.0f} -> peak {peak_mb:.0f} MB")
        assert set(statuses) <= {"408", "503"} and "408" in statuses
        # Bounded: the shared body budget plus the first 64 KiB of each (and uvicorn's own 64 KiB
        # read buffer each); without the budget 150 stalled uploads would hold about 135 MB.
        assert peak_mb - baseline_mb < BUFFER_BYTES / 2**20 + STALLED * 0.25 + 40
        for _, writer in stalled:
            writer.close()
        assert httpx.get(url + "/healthz").status_code == 200
    finally:
        proc.stop()


@pytest.mark.timeout(90)
async def test_connections_beyond_the_limit_are_refused_at_once(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    port = free_port()
    env = {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": redis_server.url, "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"),
           "RESPONDER_MAX_CONNECTIONS": "20", "RESPONDER_BODY_TIMEOUT_S": "20", "RESPONDER_LOG_LEVEL": "WARNING"}
    proc = Proc(["-m", "cli.main", "gateway", "--host", "127.0.0.1", "--port", str(port)], env).start()
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/healthz")
        stalled = [await stall(port, 1000) for _ in range(30)]
        answers = await asyncio.gather(
            *(asyncio.wait_for(closed_by_server(reader), 10) for reader, _ in stalled[20:])
        )  # the ten over the limit are answered long before the 20 s body deadline
        assert all(a.startswith(b"HTTP/1.1 503") for a in answers), answers
        for _, writer in stalled:
            writer.close()
    finally:
        proc.stop()
