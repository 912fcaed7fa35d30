"""A durable local spool for deliveries Redis could not take in time: one file per delivery.

Written to a temporary name, fsync'd, renamed into place and the directory fsync'd before the
gateway answers 202, so a delivery acknowledged to Sentry survives a crash of the process or the
machine. Names sort by arrival. Several gateway processes may share one directory: a drainer
claims a file by renaming it to a name carrying its pid (atomic), and claims of processes that
died are given back at start-up.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from shared.jobs import Delivery
from shared.queue import Intake

SUFFIX = ".delivery"
STALE_TMP_S = 60.0
CLAIM = ".claim-"


class SpoolFull(Exception):
    pass


@dataclass(frozen=True)
class Spooled:
    path: Path
    intake: Intake


def encode(intake: Intake) -> bytes:
    head = json.dumps({"actionable": intake.actionable, "reason": intake.reason})
    return head.encode() + b"\n" + intake.delivery.to_json(intake.raw_body).encode()


def decode(data: bytes) -> Intake:
    head, _, body = data.partition(b"\n")
    meta = json.loads(head)
    delivery = Delivery.model_validate_json(body)
    raw = json.dumps(delivery.body, separators=(",", ":")).encode() if delivery.body else b""
    return Intake(delivery, actionable=meta["actionable"], reason=meta["reason"], raw_body=raw)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._bytes = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())

    def append(self, intake: Intake) -> Path:
        """Store one delivery durably; raises SpoolFull past the size cap, OSError if the disk fails."""
        data = encode(intake)
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull(f"spool holds {self._bytes} bytes, cap {self.max_bytes}")
        name = f"{time.time_ns():020d}-{os.getpid()}-{intake.delivery.id}{SUFFIX}"
        tmp = self.directory / (name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        final = self.directory / name
        os.replace(tmp, final)
        self._fsync_dir()
        self._bytes += len(data)
        return final

    def has_room(self) -> bool:
        return self._bytes < self.max_bytes

    def depth(self) -> int:
        return sum(1 for p in self.directory.iterdir() if p.name.endswith(SUFFIX) or CLAIM in p.name)

    def claim(self, limit: int) -> list[Spooled]:
        """Take up to `limit` of the oldest unclaimed deliveries for this process."""
        claimed: list[Spooled] = []
        for path in sorted(p for p in self.directory.iterdir() if p.name.endswith(SUFFIX))[:limit]:
            mine = path.with_name(f"{path.name}{CLAIM}{os.getpid()}")
            try:
                os.rename(path, mine)  # atomic: another process may have claimed it first
            except FileNotFoundError:
                continue
            claimed.append(Spooled(mine, decode(mine.read_bytes())))
        return claimed

    def done(self, item: Spooled) -> None:
        size = item.path.stat().st_size
        item.path.unlink(missing_ok=True)
        self._bytes = max(0, self._bytes - size)

    def release(self, item: Spooled) -> None:
        original = item.path.name.split(CLAIM, 1)[0]
        os.replace(item.path, item.path.with_name(original))

    def recover_claims(self) -> int:
        """Give back deliveries claimed by processes that are gone (crashed mid-drain)."""
        recovered = 0
        for path in self.directory.iterdir():
            if CLAIM in path.name:
                original, _, pid = path.name.partition(CLAIM)
                if pid.isdigit() and (int(pid) == os.getpid() or not _pid_alive(int(pid))):
                    os.replace(path, path.with_name(original))
                    recovered += 1
            elif path.name.endswith(".tmp") and _older_than(path, STALE_TMP_S):
                # never renamed into place: never acknowledged. A young one may be another
                # request's (or another gateway's) write in progress: leave it.
                path.unlink(missing_ok=True)
        return recovered

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _older_than(path: Path, age_s: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > age_s
    except FileNotFoundError:
        return False
