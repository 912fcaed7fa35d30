"""devtools/processes.py: start, wait until ready, stop and kill a real child, refuse a busy port."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from devtools.processes import CONFIG_PREFIXES, Child, NotReady, PortInUse, check_port_free, http_ready, wait_ready


def python(code: str, tmp_path: Path, **env: str) -> Child:
    return Child.python(["-c", code], env, output=tmp_path / "child.log")


def gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_child_writes_its_log_and_stops_on_sigterm(tmp_path: Path) -> None:
    code = "import sys, time; print('up', flush=True); time.sleep(60)"
    with python(code, tmp_path) as child:
        child.wait_ready(lambda: "up" in child.log(), "the child", timeout_s=30)
        assert child.returncode is None
    assert child.returncode == -signal.SIGTERM


def test_stop_escalates_to_sigkill_for_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ignoring', flush=True); "
            "time.sleep(60)")
    child = python(code, tmp_path).start()
    child.wait_ready(lambda: "ignoring" in child.log(), "the child", timeout_s=30)
    child.stop(timeout_s=0.5)
    assert child.returncode == -signal.SIGKILL


def test_kill_ends_the_whole_process_group(tmp_path: Path) -> None:
    code = ("import subprocess, sys, time; "
            "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "print(g.pid, flush=True); time.sleep(60)")
    child = python(code, tmp_path).start()
    child.wait_ready(lambda: child.log().strip().isdigit(), "the child", timeout_s=30)
    grandchild = int(child.log())
    child.kill()
    assert child.returncode == -signal.SIGKILL
    wait_ready(lambda: gone(grandchild), "the grandchild's end", timeout_s=30)


def test_a_child_dies_with_its_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a parent killed with SIGKILL (no cleanup of its own) leaves no child behind."""
    code = ("import sys, time; from devtools.processes import Child; "
            "c = Child.python(['-c', 'import time; time.sleep(60)']).start(); print(c.pid, flush=True); time.sleep(60)")
    parent = python(code, tmp_path).start()
    parent.wait_ready(lambda: parent.log().strip().isdigit(), "the parent", timeout_s=30)
    child = int(parent.log())
    assert parent.popen is not None
    parent.popen.kill()  # the parent alone: the child is in a session of its own
    parent.popen.wait()
    wait_ready(lambda: gone(child), "the orphan's end", timeout_s=30)


def test_the_wait_ends_at_once_with_the_exit_code_and_the_log(tmp_path: Path) -> None:
    child = python("import sys; print('bad config: REDIS_URL'); sys.exit(3)", tmp_path).start()
    with pytest.raises(NotReady, match="exited with code 3") as failure:  # long before the deadline
        child.wait_ready(lambda: False, "the gateway", timeout_s=300)
    assert "bad config: REDIS_URL" in str(failure.value)


def test_a_timeout_is_one_line_without_a_log() -> None:
    with pytest.raises(NotReady) as failure:
        wait_ready(lambda: False, "http://127.0.0.1:1/healthz", timeout_s=0.1)
    assert str(failure.value) == "http://127.0.0.1:1/healthz was not ready within 0.1 s"


def test_http_ready_waits_for_a_200(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Child.python(["-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
                      output=tmp_path / "server.log") as server:
        server.wait_ready(http_ready(f"http://127.0.0.1:{port}/"), "http.server", timeout_s=60)


def test_stripped_settings_do_not_reach_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "from-the-developer")
    code = "import os; print(os.environ.get('SENTRY_AUTH_TOKEN'), os.environ.get('OURS'), flush=True)"
    child = Child.python(["-c", code], {"OURS": "1"}, output=tmp_path / "env.log", strip_env=CONFIG_PREFIXES).start()
    assert child.popen is not None and child.popen.wait(timeout=60) == 0
    assert child.log().strip() == "None 1"


def test_a_port_with_a_listener_is_in_use() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} is already in use") as failure:
            check_port_free(port)
        assert failure.value.port == port
    check_port_free(port)  # closed: free again


def test_a_child_that_never_gets_ready_is_stopped(tmp_path: Path) -> None:
    child = python("import time; time.sleep(60)", tmp_path)
    with pytest.raises(NotReady, match="not ready within"):
        child.start_ready(lambda: False, "the child", timeout_s=0.2)
    assert child.returncode == -signal.SIGTERM
