"""Real processes for fault tests: the gateway under uvicorn, the worker, the Sentry stand-in."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from devtools.embedded_redis import free_port


class Proc:
    def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
        self.args, self.env = args, dict(env)
        self.popen: subprocess.Popen[bytes] | None = None
        fd, name = tempfile.mkstemp(prefix="responder-proc-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)  # read it when a test fails: the process's own log lines

    def start(self) -> Proc:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "RESPONDER_", "REDIS_URL"))}
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, *self.args], env={**clean, **self.env}, start_new_session=True,
                stdout=log, stderr=log,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.popen is not None
        self.popen.wait()


def wait_http(url: str, timeout_s: float = 90.0, proc: Proc | None = None) -> None:
    """Until `url` answers 200; a process that died on the way ends the wait at once, with its log
    (a start-up error then reads as itself, not as a timeout a minute later)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({proc.popen.returncode}) before it was ready:\n"
                               + proc.log()[-5000:])
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready within {timeout_s:g} s" + (f":\n{proc.log()[-5000:]}" if proc else ""))


@contextlib.contextmanager
def gateway(env: Mapping[str, str], port: int | None = None) -> Iterator[tuple[Proc, str]]:
    port = port or free_port()
    proc = Proc(["-m", "uvicorn", "--factory", "gateway.app:app_from_env", "--port", str(port),
                 "--no-access-log", "--log-level", "warning"], env).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc=proc)
        yield proc, url
    finally:
        proc.stop()


@contextlib.contextmanager
def standin(latency_s: float = 0.0) -> Iterator[str]:
    port = free_port()
    proc = Proc(["-m", "uvicorn", "--factory", "standin.app:app_from_env", "--port", str(port),
                 "--no-access-log", "--log-level", "warning"], {"STANDIN_LATENCY_S": str(latency_s)}).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc=proc)
        yield url
    finally:
        proc.stop()


def worker(env: Mapping[str, str]) -> Proc:
    return Proc(["-m", "cli.main", "worker"], env).start()
