"""`sentry-responder dev` as a subprocess: Redis, stand-in, gateway, worker and the demo."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.processes import Child, NotReady, die_with_parent, free_port, http_ready


@pytest.mark.timeout(120)
def test_dev_runs_the_demo_end_to_end() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "REDIS_URL", "RESPONDER_"))}
    env["COLUMNS"] = "120"
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "dev", "--exit-after-demo", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=110,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    landed = re.search(r"stand-in received: (\d+) comments on (\d+) issues, (\d+) status/assignment", output)
    assert landed is not None, output
    comments, issues, changes = map(int, landed.groups())
    # One comment per issue, though two deliveries name 1170820242 and Seer's root cause names 4001:
    # the three published examples and the six issues of the five stories.
    assert comments == issues == 9
    assert "first seen 3 min after `backend@2.4.1` was deployed to `production`" in output
    assert "98% on server\\_name `web-7` (1 of 12 hosts)" in output
    assert changes >= 4
    assert "dashboard at http://127.0.0.1:" in output
    assert "failed" not in output and "dead" not in output


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "REDIS_URL", "RESPONDER_"))}
    return env | {"COLUMNS": "200", "RESPONDER_WORKER_METRICS_PORT": "0"}


def children_of(pid: int) -> set[int]:
    """Every live descendant of `pid`, read from /proc (dev's children run in their own sessions)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":  # a zombie has exited; only its parent's wait is missing
                parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                out.add(pid)
    return out


def until(check: Callable[[], bool], timeout_s: float, what: str | Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(0.1)


def described(pids: set[int]) -> dict[int, str]:
    """Each live process's state and command line, for a failure message that says who is left."""
    out = {}
    for pid in alive(pids):
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            out[pid] = state + " " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    return out


@contextlib.contextmanager
def dev_running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, set[int]]]:
    """`dev --no-demo` up (its four children: Redis, stand-in, gateway, worker), and its output."""
    out = tmp_path / "dev.out"
    with out.open("wb") as sink:
        dev = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev", "--no-demo", "--port", str(free_port())],
            env=_env(), stdout=sink, stderr=subprocess.STDOUT, preexec_fn=die_with_parent(),
        )
    children: set[int] = set()
    try:
        until(lambda: "up:" in out.read_text() or dev.poll() is not None, 180,
              lambda: f"dev did not come up: {out.read_text()[-3000:]}")
        assert dev.poll() is None, out.read_text()
        children = children_of(dev.pid)
        assert len(children) >= 4, (described(children), out.read_text()[-3000:])
        yield dev, out, children
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()
        for pid in alive(children):  # a failed test leaves nothing running on a shared machine
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_dev_stops_its_children_when_it_is_stopped(sig: signal.Signals, tmp_path: Path) -> None:
    with dev_running(tmp_path) as (dev, out, children):
        dev.send_signal(sig)
        assert dev.wait(timeout=60) == 0, out.read_text()
        assert alive(children) == set(), f"left behind after {sig.name}: {alive(children)}"
        assert "stopped." in out.read_text() and "Traceback" not in out.read_text()


@pytest.mark.timeout(300)
def test_dev_killed_takes_its_children_with_it(tmp_path: Path) -> None:
    with dev_running(tmp_path) as (dev, _out, children):
        dev.kill()  # SIGKILL: no cleanup of its own; the kernel tells each child (PR_SET_PDEATHSIG)
        dev.wait()
        until(lambda: not alive(children), 90, lambda: f"children outlived a killed dev: {described(children)}")


@pytest.mark.timeout(60)
def test_dev_refuses_a_port_in_use_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", "dev", "--no-demo", "--port", str(port)],
            env=_env(), capture_output=True, text=True, timeout=50,
        )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert output.count("\n") == 0, output
    assert f"port {port} is already in use" in output and "--port" in output


def test_readiness_is_the_started_process_never_whatever_answers_on_the_port() -> None:
    """An old gateway (another instance id) answering 200 on the port is never taken as ready."""

    class OldGateway(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "instance": "an-old-one"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OldGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    ours = Child.python(["-c", "import time; time.sleep(60)"]).start()
    ready = http_ready(url + "/readyz", instance="ours", health_url=url + "/healthz")
    try:
        with pytest.raises(NotReady, match="not ready"):
            ours.wait_ready(ready, url, timeout_s=2)
        ours.kill()
        with pytest.raises(NotReady, match="exited"):
            ours.wait_ready(ready, url, timeout_s=30)
    finally:
        ours.kill()
        server.shutdown()
        server.server_close()


def test_a_demo_the_gateway_refuses_is_one_line() -> None:
    from rich.console import Console

    from cli.devrun import DemoFailed, show_demo

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"error": "bad_signature"}')

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DemoFailed) as info:
            show_demo(f"http://127.0.0.1:{server.server_address[1]}", "redis://127.0.0.1:1/0", "s", None, Console())
    finally:
        server.shutdown()
        server.server_close()
    assert str(info.value) == 'demo: the gateway answered 401: {"error": "bad_signature"}'
