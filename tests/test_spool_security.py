"""Attacks on the spool (issue 18, findings 8 and 9): a write cut short, a file that cannot be
decoded, a delivery planted by hand in the directory, a directory others may write to."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as sync_redis

from devtools.embedded_redis import EmbeddedRedis
from devtools.processes import free_port
from gateway import spool as spool_module
from gateway.spool import REJECTED, Spool, SpoolInsecure
from shared import keys
from tests.helpers import SECRET
from tests.processes import gateway
from tests.test_spool import intake

SECRETS = (SECRET,)


def wait_until(condition: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_short_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(spool_module.os, "write", lambda fd, data: real_write(fd, bytes(data[:100])))
    spool = Spool(tmp_path, 10_000_000, SECRETS)
    spool.append(intake(1))
    monkeypatch.undo()
    [item] = spool.claim(10)
    assert item.intake.delivery.id == f"{1:032x}"  # whole, verified, decoded


def test_a_full_disk_fails_the_append_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_write = os.write

    def disk_fills(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data[:100]))

    monkeypatch.setattr(spool_module.os, "write", disk_fills)
    spool = Spool(tmp_path, 10_000_000, SECRETS)
    with pytest.raises(OSError):
        spool.append(intake(1))  # the gateway answers 503, not 202, for this one
    assert list(tmp_path.iterdir()) == []


def test_directory_is_created_private_and_a_writable_one_refused(tmp_path: Path) -> None:
    Spool(tmp_path / "new", 1000, SECRETS)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(SpoolInsecure, match="RESPONDER_SPOOL_DIR"):
        Spool(shared, 1000, SECRETS)


def test_gateway_refuses_to_start_on_a_world_writable_spool(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    spool_dir.chmod(0o777)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "RESPONDER_"))}
    env |= {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": redis_server.url, "RESPONDER_SPOOL_DIR": str(spool_dir)}
    done = subprocess.run([sys.executable, "-m", "cli.main", "gateway", "--port", str(free_port())],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "RESPONDER_SPOOL_DIR" in done.stderr


def test_planted_and_broken_files_are_rejected_and_the_batch_goes_on(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    """A running gateway drains its spool: a hand-written unsigned delivery (finding 9) and an
    undecodable file (finding 8) go to rejected/, the genuine ones around them are queued."""
    client = sync_redis.Redis.from_url(redis_server.url)
    client.flushdb()
    spool_dir = tmp_path / "spool"
    writer = Spool(spool_dir, 10_000_000, SECRETS)
    genuine = [writer.append(intake(n)) for n in (1, 2)]
    planted_id = "f" * 32
    planted = json.dumps({"id": planted_id, "resource": "issue", "action": "created", "received_at": 1.0,
                          "issue_id": "1", "body": {}})
    (spool_dir / f"{0:020d}-1-{planted_id}.delivery").write_bytes(
        b'{"actionable": true, "reason": null}\n' + planted.encode())  # the old, unsigned format
    forged = spool_module.encode(intake(3), "not-the-client-secret")
    (spool_dir / f"{1:020d}-1-{3:032x}.delivery").write_bytes(forged)
    (spool_dir / f"{2:020d}-1-broken.delivery").write_bytes(b"\xff\xfe garbage")
    env = {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": redis_server.url, "RESPONDER_SPOOL_DIR": str(spool_dir)}
    with gateway(env) as (proc, _url):
        wait_until(lambda: len(list((spool_dir / REJECTED).glob("*.delivery"))) == 3)
        wait_until(lambda: all(client.exists(keys.job(f"{n:032x}")) for n in (1, 2)))
        assert not client.exists(keys.job(planted_id)) and not client.exists(keys.job(f"{3:032x}"))
        assert not any(p.exists() for p in genuine)
        assert "spool_file_rejected" in proc.log()
