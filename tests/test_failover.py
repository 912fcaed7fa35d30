"""Losing the Redis primary mid-stream: a primary, a replica and three sentinels (all local
`redis-server` processes), two gateways, two workers and the Sentry stand-in. The primary is
SIGKILLed while signed deliveries stream in; Sentinel promotes the replica; every delivery that got a
2xx is written back exactly once.

The gateways run with RESPONDER_REDIS_MIN_REPLICAS=1: a 2xx from Redis means the replica had the
delivery (WAIT), and while no replica confirms (the primary gone, then the new primary alone) the
deliveries go to the gateways' spools and drain once the old primary is back as a replica, which
is what an orchestrator restarting it would do.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis as sync_redis

from devtools.embedded_redis import EmbeddedRedis, EmbeddedSentinel
from gateway.signature import sign
from shared import keys
from shared.redis import connect_sync, parse_redis_url
from standin.app import DEMO_TOKEN
from tests.helpers import SECRET, load_webhook, wire_bytes
from tests.processes import Proc, gateway, standin, worker

pytestmark = pytest.mark.chaos

DELIVERIES = 240
RATE_PER_S = 20
KILL_AFTER_ACKS = 60
ISSUE_START = 900_000


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(sync_redis.RedisError, OSError):
            if check():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout_s} s: {what}")
        time.sleep(0.1)


def info(port: int, section: str) -> dict[str, object]:
    client = sync_redis.Redis(port=port, socket_timeout=2)
    try:
        found: dict[str, object] = client.info(section)
        return found
    finally:
        client.close()


def sentinel_view(sentinel: EmbeddedSentinel) -> dict[str, object]:
    client = sync_redis.Redis(port=sentinel.port, socket_timeout=2, decode_responses=True)
    try:
        view: dict[str, object] = client.sentinel_master(sentinel.master_name)
        return view
    finally:
        client.close()


@dataclass
class Sent:
    delivery_id: str
    issue_id: str
    status: int
    spooled: bool
    at: float


@dataclass
class Stream:
    """Signed deliveries at a steady rate, alternating between the gateways, until told to stop."""

    gateway_urls: list[str]
    sent: list[Sent] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        payload = load_webhook("issue.created")
        with httpx.Client(timeout=15) as client:
            for n in range(DELIVERIES):
                if self.stop.is_set():
                    return
                due = self.started + n / RATE_PER_S
                time.sleep(max(0.0, due - time.monotonic()))
                issue_id = str(ISSUE_START + n)
                payload["data"]["issue"]["id"] = issue_id
                body = wire_bytes(payload)
                request_id = uuid.uuid4().hex
                headers = {
                    "Content-Type": "application/json", "Request-ID": request_id,
                    "Sentry-Hook-Resource": "issue", "Sentry-Hook-Timestamp": str(int(time.time())),
                    "Sentry-Hook-Signature": sign(body, SECRET),
                }
                url = self.gateway_urls[n % len(self.gateway_urls)] + "/webhooks/sentry"
                try:
                    response = client.post(url, content=body, headers=headers)
                    status, spooled = response.status_code, response.headers.get("X-Responder-Spooled") == "1"
                except httpx.HTTPError:
                    status, spooled = 0, False
                self.sent.append(Sent(request_id, issue_id, status, spooled, time.monotonic()))

    def start(self) -> threading.Thread:
        self.started = time.monotonic()
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread

    def acked(self) -> list[Sent]:
        return [s for s in list(self.sent) if 200 <= s.status < 300]


def settled(store: sync_redis.Redis, gateway_urls: list[str]) -> bool:
    """Nothing left that could still write back: the queue empty (deferred retries included), no
    job in progress, both spools drained."""
    if store.zcard(keys.QUEUE) or next(store.scan_iter(match="arq:in-progress:*", count=1000), None):
        return False
    return all(httpx.get(url + "/readyz", timeout=10).json()["spool_depth"] == 0 for url in gateway_urls)


@dataclass
class Replicated:
    primary: EmbeddedRedis
    replica: EmbeddedRedis
    sentinels: list[EmbeddedSentinel]
    url: str


@pytest.fixture
def replicated(tmp_path: Path) -> Iterator[Replicated]:
    with contextlib.ExitStack() as stack:
        primary = stack.enter_context(EmbeddedRedis(data_dir=tmp_path / "primary"))
        replica = stack.enter_context(EmbeddedRedis(
            data_dir=tmp_path / "replica", extra_args=["--replicaof", "127.0.0.1", str(primary.port)]
        ))
        wait_until(lambda: info(replica.port, "replication").get("master_link_status") == "up", "replica in sync")
        sentinels = []
        for _ in range(3):
            # 5 s, not 1 s: a just-promoted primary busy with a full sync and the stream on a
            # 2-core box can miss PINGs for a second, and Sentinel then failed over again, to the
            # rejoining node before it had synced (an empty primary). Production's default is 30 s.
            sentinel = EmbeddedSentinel(primary.port, down_after_ms=5000, failover_timeout_ms=3000).start()
            stack.callback(sentinel.close)
            sentinels.append(sentinel)
        for sentinel in sentinels:  # each knows the replica and the two other sentinels
            wait_until(lambda s=sentinel: sentinel_view(s)["num-other-sentinels"] == 2
                       and sentinel_view(s)["num-slaves"] == 1, "sentinels see each other and the replica")
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in sentinels)
        yield Replicated(primary, replica, sentinels, f"redis+sentinel://{hosts}/mymaster/0")


def env_for(url: str, standin_url: str, spool: Path) -> dict[str, str]:
    return {
        "SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": url, "SENTRY_BASE_URL": standin_url + "/api/0/",
        "SENTRY_AUTH_TOKEN": DEMO_TOKEN, "SENTRY_ORGANIZATION": "demo-org",
        "RESPONDER_SPOOL_DIR": str(spool), "RESPONDER_WORKER_METRICS_PORT": "0",
        "RESPONDER_REDIS_MIN_REPLICAS": "1", "RESPONDER_REDIS_REPLICA_TIMEOUT_S": "0.5",
        "RESPONDER_ENQUEUE_TIMEOUT_S": "1",
        "RESPONDER_RETRY_BASE_S": "0.2", "RESPONDER_RETRY_MAX_S": "1", "RESPONDER_JOB_TIMEOUT_S": "3",
        "RESPONDER_ISSUE_LOCK_S": "4", "RESPONDER_QUIET_WINDOW_S": "0", "RESPONDER_POLL_DELAY_S": "0.05",
        "RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": "100000", "RESPONDER_MAX_TRIES": "10",
        "RESPONDER_LOG_LEVEL": "INFO", "RESPONDER_LOG_FORMAT": "json",
    }


def longest_gap_s(acked: list[Sent], started: float) -> float:
    times = [started, *sorted(s.at for s in acked)]
    return max(b - a for a, b in itertools.pairwise(times))


@pytest.mark.timeout(300)
def test_primary_killed_mid_stream_loses_and_doubles_nothing(replicated: Replicated, tmp_path: Path) -> None:
    procs: list[Proc] = []
    with contextlib.ExitStack() as stack:
        standin_url = stack.enter_context(standin())
        httpx.post(standin_url + "/_standin/clone", json={"start": ISSUE_START, "count": DELIVERIES}, timeout=10)
        gateway_urls = []
        for n in range(2):
            proc, url = stack.enter_context(gateway(env_for(replicated.url, standin_url, tmp_path / f"spool{n}")))
            procs.append(proc)
            gateway_urls.append(url)
        for _ in range(2):
            w = worker(env_for(replicated.url, standin_url, tmp_path / "unused-spool"))
            stack.callback(w.stop)
            procs.append(w)
        stream = Stream(gateway_urls)
        poster = stream.start()
        try:
            wait_until(lambda: len(stream.acked()) >= KILL_AFTER_ACKS, "deliveries acknowledged before the kill")
            replicated.primary.kill()  # SIGKILL: nothing flushed, nothing handed over
            killed_at = time.monotonic()
            wait_until(lambda: replicated.sentinels[0].master_address() == ("127.0.0.1", replicated.replica.port),
                       "Sentinel promoted the replica")
            promoted_s = time.monotonic() - killed_at
            # the orchestrator restarts the lost node; it comes back as a replica of the new primary
            rejoined = stack.enter_context(EmbeddedRedis(
                data_dir=tmp_path / "rejoined",
                extra_args=["--replicaof", "127.0.0.1", str(replicated.replica.port)],
            ))
            wait_until(lambda: info(rejoined.port, "replication").get("master_link_status") == "up", "replica rejoined")
            poster.join(timeout=DELIVERIES / RATE_PER_S + 120)
            assert not poster.is_alive(), "the stream did not finish"

            acked = stream.acked()
            store = connect_sync(parse_redis_url(replicated.url))
            ids = [s.delivery_id for s in acked]

            def states() -> list[bytes | None]:
                with store.pipeline(transaction=False) as pipe:
                    for delivery_id in ids:
                        pipe.hget(keys.job(delivery_id), "state")
                    found: list[bytes | None] = pipe.execute()
                return found

            def notes() -> dict[str, int]:
                state = httpx.get(standin_url + "/_standin/state", timeout=10).json()
                return {issue: len(n) for issue, n in state["notes"].items()}

            acked_issues = {s.issue_id for s in acked}
            wait_until(lambda: all(st == b"succeeded" for st in states())
                       and acked_issues <= set(notes()), "every acknowledged delivery written back", 180)
            # A late duplicate write-back could come only from a job still queued, running, or in a
            # gateway's spool: wait until there is none, then count.
            wait_until(lambda: settled(store, gateway_urls), "no job queued, running or spooled", 90)
            counts = notes()
            processed = sum(st == b"succeeded" for st in states())
            store.close()
            # nobody restarted a gateway or a worker: they followed Sentinel to the new primary
            assert [p.popen.poll() for p in procs if p.popen is not None] == [None] * 4
        except BaseException:
            stream.stop.set()
            for proc in procs:
                print(f"--- {proc.args}\n{proc.log()[-6000:]}")
            for log in sorted(tmp_path.glob("*/redis.log")):
                print(f"--- {log}\n{log.read_text()[-3000:]}")
            for sentinel in replicated.sentinels:  # who promoted whom, and when
                print(f"--- sentinel {sentinel.port}\n{(sentinel.data_dir / 'sentinel.log').read_text()[-4000:]}")
            raise
    lost = [s for s in acked if counts.get(s.issue_id, 0) == 0]
    doubled = [s for s in acked if counts.get(s.issue_id, 0) > 1]
    report = (
        f"failover: deliveries {len(stream.sent)}, 2xx {len(acked)} "
        f"({sum(s.spooled for s in acked)} spooled), processed {processed}, lost {len(lost)}, "
        f"doubled {len(doubled)}, longest ack gap {longest_gap_s(acked, stream.started):.2f} s, "
        f"promotion after {promoted_s:.1f} s"
    )
    print("\n" + report)  # shown with -s
    assert len(stream.sent) == DELIVERIES
    assert len(acked) == DELIVERIES, [s.status for s in stream.sent if not 200 <= s.status < 300]
    assert processed == len(acked)
    assert (len(lost), len(doubled)) == (0, 0), report
