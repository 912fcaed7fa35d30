"""Child processes for `dev`: started with the same Python, owned by `dev`, stopped together.

`dev` owns what it starts. It stops them when it is asked to stop (SIGINT, SIGTERM, SIGHUP: see
cli/devrun.py), and on Linux each child also gets SIGTERM from the kernel if `dev` dies without
a word (SIGKILL, a crash): `prctl(PR_SET_PDEATHSIG)`, set between fork and exec. The children run
in sessions of their own, so a Ctrl-C reaches `dev` alone, which stops them in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping

import httpx

PR_SET_PDEATHSIG = 1


class NotReady(RuntimeError):
    """A child did not become ready, or exited: the message is one line for the terminal."""


class PortInUse(RuntimeError):
    def __init__(self, port: int) -> None:
        super().__init__(
            f"port {port} is already in use (another gateway, or another program): "
            "stop it, or choose another port with --port"
        )
        self.port = port


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get SIGTERM when this process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above: nobody to outlive
            os._exit(1)

    return preexec


@contextlib.contextmanager
def child(args: list[str], env: Mapping[str, str], quiet: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, *args], env={**os.environ, **env}, start_new_session=True,
        stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.DEVNULL if quiet else None,
        preexec_fn=die_with_parent(),  # only prctl runs there, before exec
    )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Bind as the gateway will (SO_REUSEADDR, like uvicorn): only a listener makes it fail."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(port) from None
            raise


def _answers(url: str, instance: str | None) -> bool:
    """The URL answers 200, and, when an instance is given, it is that process that answers."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        response = httpx.get(url, timeout=1.0)
        if response.status_code != 200:
            return False
        return instance is None or response.json().get("instance") == instance
    return False


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0, *,
    instance: str | None = None, health_url: str | None = None,
) -> None:
    """Until `url` answers 200 while `proc` runs. With `instance`, `health_url` must first name
    it, so whatever else answers on the port (an old gateway, another program) never counts."""
    deadline = time.monotonic() + timeout_s
    checks: list[tuple[str, str | None]] = [(health_url, instance)] if health_url and instance else []
    checks.append((url, None))
    for check_url, expected in checks:
        while not _answers(check_url, expected):
            if proc.poll() is not None:
                raise NotReady(f"the process for {url} exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise NotReady(f"{url} was not ready within {timeout_s:.0f} s")
            time.sleep(0.1)
