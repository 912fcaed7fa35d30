"""Child processes for `dev`, the tests and the benchmarks: start one, wait until it is ready, stop it.

The one way (CONTRIBUTING.md). A `Child` runs in a session of its own, so a Ctrl-C reaches its
owner alone, which stops its children in order; stopping signals the whole process group (uvicorn's
workers, redis-server's rewrite child), SIGTERM first and SIGKILL after a deadline. On Linux each
child also gets SIGTERM from the kernel if its owner dies without a word (SIGKILL, a crash):
`prctl(PR_SET_PDEATHSIG)`, set between fork and exec. The kernel ties that to the *thread* that
started the child, so start children from a thread that outlives them (the main thread).

Readiness is a probe (`http_ready`, or any `() -> bool`, e.g. a redis PING) polled until a deadline;
a child that exits on the way ends the wait at once with its exit code and its log's tail, so a
start-up error reads as itself, not as a timeout a minute later.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import enum
import errno
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self

import httpx

PR_SET_PDEATHSIG = 1
CONFIG_PREFIXES = ("SENTRY_", "RESPONDER_", "REDIS_URL")  # the service's own settings
LOG_TAIL_CHARS = 5000

Probe = Callable[[], bool]


class NotReady(RuntimeError):
    """A child did not become ready, or exited: one line for the terminal, then its log's tail
    when its output goes to a file."""


class PortInUse(RuntimeError):
    def __init__(self, port: int) -> None:
        super().__init__(
            f"port {port} is already in use (another gateway, or another program): "
            "stop it, or choose another port with --port"
        )
        self.port = port


class Output(enum.Enum):
    """Where a child's stdout and stderr go when not to a log file."""

    INHERIT = "inherit"  # the owner's terminal (`dev`'s gateway and worker)
    DEVNULL = "devnull"


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


def temp_log(prefix: str) -> Path:
    """An empty file for a child's output, kept after the child exits (read it when a test fails)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(fd)
    return Path(name)


def environment(env: Mapping[str, str], strip: Sequence[str] = ()) -> dict[str, str]:
    """This process's environment without the variables starting with `strip`, then `env` on top."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(tuple(strip))}
    return {**inherited, **env}


class Child:
    """One child process: `start()`, `wait_ready(probe)`, `stop()`; a context manager that stops it.

    `output` is a log file (appended to), the owner's terminal, or nothing. `strip_env` drops
    inherited variables by prefix (the tests pass `CONFIG_PREFIXES`, so a developer's own settings
    never leak into a test's processes)."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, *,
        output: Path | Output = Output.DEVNULL, strip_env: Sequence[str] = (), dies_with_parent: bool = True,
        stop_timeout_s: float = 20.0,
    ) -> None:
        self.args, self.env = list(argv), dict(env or {})
        self.output, self.strip_env, self.dies_with_parent = output, tuple(strip_env), dies_with_parent
        self.stop_timeout_s = stop_timeout_s
        self.popen: subprocess.Popen[bytes] | None = None

    @classmethod
    def python(
        cls, args: Sequence[str], env: Mapping[str, str] | None = None, *,
        output: Path | Output = Output.DEVNULL, strip_env: Sequence[str] = (), stop_timeout_s: float = 20.0,
    ) -> Child:
        """A child running this same Python (`sys.executable`) with `args` (`-m module …`)."""
        return cls([sys.executable, *args], env, output=output, strip_env=strip_env, stop_timeout_s=stop_timeout_s)

    @property
    def pid(self) -> int:
        assert self.popen is not None, "not started"
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def start(self) -> Self:
        with contextlib.ExitStack() as stack:
            sink: IO[bytes] | int | None
            if isinstance(self.output, Path):
                sink = stack.enter_context(self.output.open("ab"))
            else:
                sink = subprocess.DEVNULL if self.output is Output.DEVNULL else None
            self.popen = subprocess.Popen(
                self.args, env=environment(self.env, self.strip_env), start_new_session=True,
                stdout=sink, stderr=sink,
                preexec_fn=die_with_parent() if self.dies_with_parent else None,  # only prctl runs there
            )
        return self

    def start_ready(self, probe: Probe, what: str, timeout_s: float = 60.0) -> Self:
        """`start()`, then `wait_ready()`; a child that never got ready is stopped before the error
        goes up (a `with` never reaches `__exit__` when `__enter__` raises)."""
        self.start()
        try:
            self.wait_ready(probe, what, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        """What the child wrote, when it writes to a file; "" otherwise."""
        if not isinstance(self.output, Path):
            return ""
        with contextlib.suppress(OSError):
            return self.output.read_text(errors="replace")
        return ""

    def signal(self, sig: int) -> None:
        """Send `sig` to the child's process group (what is left of it, if the child itself exited)."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def stop(self, timeout_s: float | None = None) -> None:
        """SIGTERM, wait up to `timeout_s` (`stop_timeout_s` unless given), then SIGKILL; nothing if
        it never started or has exited."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=self.stop_timeout_s if timeout_s is None else timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the abrupt end a crash test needs (nothing flushed, nothing handed over)."""
        if self.popen is not None:
            self.signal(signal.SIGKILL)
            self.popen.wait()

    def wait_ready(self, probe: Probe, what: str, timeout_s: float = 60.0) -> None:
        """Until `probe()` is true while the child runs: `wait_ready(…, child=self)`."""
        wait_ready(probe, what, timeout_s, child=self)

    def __enter__(self) -> Self:
        return self if self.popen is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def wait_ready(
    probe: Probe, what: str, timeout_s: float = 60.0, *, child: Child | None = None, poll_s: float = 0.05,
) -> None:
    """Until `probe()` is true; `NotReady` when the deadline passes or, at once, when `child` exits
    (with its exit code, and its log's tail when it writes to a file)."""
    deadline = time.monotonic() + timeout_s
    while not probe():
        if child is not None and child.returncode is not None:
            raise NotReady(_with_log(child, f"{what}: the process exited with code {child.returncode}"
                                            " before it was ready"))
        if time.monotonic() > deadline:
            raise NotReady(_with_log(child, f"{what} was not ready within {timeout_s:g} s"))
        time.sleep(poll_s)


def wait_http(url: str, timeout_s: float = 90.0, child: Child | None = None) -> None:
    """Until `url` answers 200 (a generous default deadline: the machine may be busy)."""
    wait_ready(http_ready(url), url, timeout_s, child=child)


def _with_log(child: Child | None, line: str) -> str:
    tail = child.log()[-LOG_TAIL_CHARS:] if child is not None else ""
    return f"{line}:\n{tail}" if tail else line


def answers(url: str, instance: str | None = None, timeout_s: float = 2.0) -> bool:
    """`url` answers 200, and, when `instance` is given, its JSON names that instance."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        response = httpx.get(url, timeout=timeout_s)
        if response.status_code != 200:
            return False
        return instance is None or response.json().get("instance") == instance
    return False


def http_ready(url: str, *, instance: str | None = None, health_url: str | None = None) -> Probe:
    """A probe: `url` answers 200. With `instance`, `health_url` must first name it, so whatever
    else answers on the port (an old gateway, another program) never counts."""
    checks: list[tuple[str, str | None]] = [(health_url, instance)] if health_url and instance else []
    checks.append((url, None))

    def probe() -> bool:
        while checks and answers(*checks[0]):
            checks.pop(0)
        return not checks

    return probe


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


def free_port() -> int:
    """A loopback port nothing listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
