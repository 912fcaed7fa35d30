"""A durable local spool for deliveries Redis could not take in time: one file per delivery.

Written to a temporary name, fsync'd, renamed into place and the directory fsync'd before the
gateway answers 202, so a delivery acknowledged to Sentry survives a crash of the process or the
machine. Names sort by arrival. Several gateway processes may share one directory: a drainer
claims a file by renaming it to a name carrying its pid (atomic), and claims of processes that
died are given back at start-up.

The spool directory is trusted only as far as its records prove: each carries an HMAC keyed
from the client secret (a file someone dropped there is not a delivery Sentry signed), the
directory is created 0700 and a group- or world-writable one is refused, and a file that cannot
be verified or decoded is moved to `rejected/` while the rest of the batch goes on.
"""

from __future__ import annotations

import hmac
import json
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from shared.jobs import Delivery
from shared.queue import Intake

log = structlog.get_logger("gateway.spool")

SUFFIX = ".delivery"
STALE_TMP_S = 60.0
CLAIM = ".claim-"


MAGIC = b"responder-spool-v2"
REJECTED = "rejected"


class SpoolFull(Exception):
    pass


class SpoolInsecure(Exception):
    """The spool directory is writable by others: anyone could plant deliveries in it."""


class SpoolRecordInvalid(Exception):
    """A spool file that is not a record this gateway wrote (bad MAC, cut short, undecodable)."""


@dataclass(frozen=True)
class Spooled:
    path: Path
    intake: Intake


def _mac_key(secret: str) -> bytes:
    return hmac.digest(secret.encode(), b"responder-spool-record-v2", "sha256")


def encode(intake: Intake, secret: str) -> bytes:
    head = json.dumps({"actionable": intake.actionable, "reason": intake.reason, "body_sha256": intake.body_sha256})
    content = head.encode() + b"\n" + intake.delivery.to_json(intake.raw_body).encode()
    mac = hmac.digest(_mac_key(secret), content, "sha256").hex().encode()
    return MAGIC + b" " + mac + b"\n" + content


def verified_content(data: bytes, secrets: Sequence[str]) -> bytes:
    first, _, content = data.partition(b"\n")
    magic, _, mac = first.partition(b" ")
    if magic != MAGIC or not content:
        raise SpoolRecordInvalid("not a spool record")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(hmac.digest(_mac_key(secret), content, "sha256").hex().encode(), mac)
    if not matched:
        raise SpoolRecordInvalid("MAC does not match any configured client secret")
    return content


def decode(data: bytes, secrets: Sequence[str]) -> Intake:
    content = verified_content(data, secrets)
    head, _, body = content.partition(b"\n")
    try:
        meta = json.loads(head)
        delivery = Delivery.model_validate_json(body)
        raw = json.dumps(delivery.body, separators=(",", ":")).encode() if delivery.body else b""
        return Intake(
            delivery, actionable=bool(meta["actionable"]), reason=meta["reason"], raw_body=raw,
            body_sha256=str(meta.get("body_sha256") or ""),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SpoolRecordInvalid(f"undecodable: {type(exc).__name__}") from None


def prepare_directory(directory: Path) -> None:
    """Create the spool 0700; refuse one that others may write to."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = directory.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SpoolInsecure(
            f"RESPONDER_SPOOL_DIR: {directory} is writable by group or others (mode {stat.S_IMODE(mode):o}); "
            "chmod 700 it"
        )


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (a full disk, a signal): loop until every byte is down."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError("spool write made no progress")
        view = view[written:]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    def __init__(self, directory: Path, max_bytes: int, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("the spool needs a client secret to sign its records")
        self.directory = directory
        self.max_bytes = max_bytes
        self.secrets = tuple(secrets)
        prepare_directory(directory)
        self._bytes = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())

    def append(self, intake: Intake) -> Path:
        """Store one delivery durably; raises SpoolFull past the size cap, OSError if the disk fails
        (then nothing is left behind: the 202 is never sent for a file cut short)."""
        data = encode(intake, self.secrets[0])
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFull(f"spool holds {self._bytes} bytes, cap {self.max_bytes}")
        name = f"{time.time_ns():020d}-{os.getpid()}-{intake.delivery.id}{SUFFIX}"
        tmp = self.directory / (name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            final = self.directory / name
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._fsync_dir()
        self._bytes += len(data)
        return final

    def has_room(self) -> bool:
        return self._bytes < self.max_bytes

    def depth(self) -> int:
        return sum(1 for p in self.directory.iterdir() if p.name.endswith(SUFFIX) or CLAIM in p.name)

    def claim(self, limit: int) -> list[Spooled]:
        """Take up to `limit` of the oldest unclaimed deliveries for this process; a file that
        fails verification or decoding goes to `rejected/` and the batch goes on without it."""
        claimed: list[Spooled] = []
        for path in sorted(p for p in self.directory.iterdir() if p.name.endswith(SUFFIX))[:limit]:
            mine = path.with_name(f"{path.name}{CLAIM}{os.getpid()}")
            try:
                os.rename(path, mine)  # atomic: another process may have claimed it first
            except FileNotFoundError:
                continue
            try:
                claimed.append(Spooled(mine, decode(mine.read_bytes(), self.secrets)))
            except (SpoolRecordInvalid, OSError) as exc:
                self.reject(mine, path.name, str(exc))
        return claimed

    def reject(self, path: Path, name: str, why: str) -> None:
        rejected = self.directory / REJECTED
        rejected.mkdir(mode=0o700, exist_ok=True)
        size = path.stat().st_size
        os.replace(path, rejected / name)
        self._bytes = max(0, self._bytes - size)
        log.warning("spool_file_rejected", file=name, reason=why)

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
