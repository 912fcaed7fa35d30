"""Start a throwaway `redis-server` on a free loopback port: for `dev`, the demo and the tests.

Also what the TLS, ACL and failover tests need: a TLS port beside the plain one, extra
configuration (ACL users, `replicaof`), and sentinels (`EmbeddedSentinel`). Each is a
devtools.processes `Child`: it dies with its owner, and a server that exits while starting ends
the wait at once, with its log."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from devtools.processes import Child, free_port
from shared.replies import text


class RedisNotFound(RuntimeError):
    pass


def find_redis_server() -> str:
    explicit = os.environ.get("REDIS_SERVER_BIN")
    found = explicit or shutil.which("redis-server") or shutil.which("/usr/sbin/redis-server")
    if not found:
        raise RedisNotFound(
            "redis-server not found: install it (apt-get install redis-server) or set REDIS_SERVER_BIN"
        )
    return found


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for a TLS port: the CA that signed the certificate, the certificate, its key."""

    ca_file: Path
    cert_file: Path
    key_file: Path


class EmbeddedRedis:
    """A redis-server child process with its data in a temp directory, AOF on (as in production)."""

    def __init__(
        self, port: int | None = None, data_dir: Path | None = None, *,
        tls: TLSFiles | None = None, extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="responder-redis-"))
        self._process: Child | None = None
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _tls_args(self) -> list[str]:
        if self.tls is None:
            return []
        return [
            "--tls-port", str(self.tls_port), "--tls-cert-file", str(self.tls.cert_file),
            "--tls-key-file", str(self.tls.key_file), "--tls-ca-cert-file", str(self.tls.ca_file),
            "--tls-auth-clients", "optional",
        ]

    def start(self, timeout_s: float = 30.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--daemonize", "no", "--loglevel", "warning",
            *self._tls_args(), *self.extra_args,
        ]
        self._process = Child(args, output=self.data_dir / "redis.log", stop_timeout_s=10).start_ready(
            answers_ping(self.port), f"redis-server on port {self.port}", timeout_s,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: the abrupt end a failover test needs (nothing flushed, nothing handed over)."""
        if self._process is not None:
            self._process.kill()
        self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
        self._process = None

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        try:
            return self.start()
        except BaseException:  # `__exit__` never runs when `__enter__` raises: the data dir would stay
            self.close()
            raise

    def __exit__(self, *_exc: object) -> None:
        self.close()


def answers_ping(port: int) -> Callable[[], bool]:
    """A readiness probe: the server on `port` answers PING."""

    def probe() -> bool:
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    return probe


class EmbeddedSentinel:
    """A `redis-server --sentinel` watching one master, with short timeouts for tests: it needs a
    writable config file of its own (Sentinel records what it learns there)."""

    def __init__(
        self, master_port: int, master_name: str = "mymaster", quorum: int = 2,
        down_after_ms: int = 1000, failover_timeout_ms: int = 3000,
    ) -> None:
        self.port = free_port()
        self.master_name = master_name
        self.data_dir = Path(tempfile.mkdtemp(prefix="responder-sentinel-"))
        self._config = "\n".join([
            f"port {self.port}", "bind 127.0.0.1", f"dir {self.data_dir}",
            f"sentinel monitor {master_name} 127.0.0.1 {master_port} {quorum}",
            f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
            f"sentinel failover-timeout {master_name} {failover_timeout_ms}",
            f"sentinel parallel-syncs {master_name} 1", "",
        ])
        self._process: Child | None = None

    def start(self, timeout_s: float = 10.0) -> EmbeddedSentinel:
        config = self.data_dir / "sentinel.conf"
        config.write_text(self._config)
        self._process = Child(
            [find_redis_server(), str(config), "--sentinel"], output=self.data_dir / "sentinel.log", stop_timeout_s=10,
        ).start_ready(answers_ping(self.port), f"sentinel on port {self.port}", timeout_s)
        return self

    def master_address(self) -> tuple[str, int] | None:
        client = redis.Redis(port=self.port, socket_timeout=1)
        try:
            found = client.execute_command(  # type: ignore[no-untyped-call]
                "SENTINEL", "get-master-addr-by-name", self.master_name
            )
        finally:
            client.close()
        if not found:
            return None
        host, port = (text(part) for part in found)
        return host, int(port)

    def close(self) -> None:
        if self._process is not None:
            self._process.stop()
        self._process = None
        shutil.rmtree(self.data_dir, ignore_errors=True)
