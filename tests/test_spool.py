"""The spool on its own (files, order, cap, claims) and draining into a real Redis."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.drain import drain_once
from gateway.spool import Spool, SpoolFull
from shared.jobs import Delivery
from shared.jobstore import JobStore
from shared.queue import DeliveryQueue, Intake
from tests.helpers import SECRET, load_webhook, wire_bytes

SECRETS = (SECRET,)


def intake(n: int, body: dict[str, object] | None = None) -> Intake:
    payload = body or load_webhook("issue.created")
    raw = wire_bytes(payload)
    delivery = Delivery(id=f"{n:032x}", resource="issue", action="created", received_at=time.time(),
                        issue_id=f"9{n}", body=payload)
    return Intake(delivery, actionable=True, raw_body=raw)


def test_append_is_durable_ordered_and_round_trips(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10_000_000, SECRETS)
    for n in range(5):
        spool.append(intake(n))
    assert spool.depth() == 5
    assert not list(tmp_path.glob("*.tmp"))
    claimed = spool.claim(10)
    assert [c.intake.delivery.id for c in claimed] == [f"{n:032x}" for n in range(5)]
    assert claimed[0].intake.delivery.body == load_webhook("issue.created")
    for item in claimed:
        spool.done(item)
    assert spool.depth() == 0


def test_cap_refuses(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 2000, SECRETS)
    spool.append(intake(1))
    with pytest.raises(SpoolFull):
        spool.append(intake(2))


def test_claims_of_dead_processes_are_recovered(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10_000_000, SECRETS)
    spool.append(intake(1))
    path = next(tmp_path.iterdir())
    os.rename(path, path.with_name(path.name + ".claim-999999"))  # a drainer that died
    stale = tmp_path / "half-written.delivery.tmp"
    stale.write_bytes(b"x")  # never acknowledged, long ago
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    young = tmp_path / "being-written.delivery.tmp"
    young.write_bytes(b"x")  # a request's write in progress (this or another gateway's)
    assert spool.claim(10) == []
    assert spool.recover_claims() == 1
    assert [c.intake.delivery.id for c in spool.claim(10)] == [f"{1:032x}"]
    assert not stale.exists() and young.exists()


def test_a_claimed_file_is_not_claimed_twice(tmp_path: Path) -> None:
    first, second = Spool(tmp_path, 10_000_000, SECRETS), Spool(tmp_path, 10_000_000, SECRETS)
    first.append(intake(1))
    assert len(first.claim(10)) == 1
    assert second.claim(10) == []


async def test_drain_moves_deliveries_into_the_queue_once(tmp_path: Path, redis: Redis) -> None:
    spool = Spool(tmp_path, 10_000_000, SECRETS)
    queue = DeliveryQueue(redis, "responder:queue", 3600)
    items = [intake(n) for n in range(3)]
    await queue.submit_many([items[0]])  # delivered once already (redelivery after Redis came back)
    for item in items:
        spool.append(item)
    assert await drain_once(spool, queue) == 3
    assert spool.depth() == 0
    assert await redis.zcard("responder:queue") == 3  # three issues: three jobs, none twice
    records = await JobStore(redis).recent(10)
    assert sorted(r.id for r in records) == sorted(i.delivery.id for i in items)


async def test_failed_drain_gives_the_files_back(tmp_path: Path) -> None:
    from devtools.processes import free_port

    spool = Spool(tmp_path, 10_000_000, SECRETS)
    spool.append(intake(1))
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    with pytest.raises(RedisError):
        await drain_once(spool, DeliveryQueue(dead, "q", 60))
    await dead.aclose()
    assert [p.name.endswith(".delivery") for p in tmp_path.iterdir()] == [True]
