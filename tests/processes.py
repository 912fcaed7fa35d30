"""Real processes for fault tests: the gateway under uvicorn, the worker, the Sentry stand-in.

Thin wrappers over devtools/processes.py: a test's child runs this Python without the developer's
own SENTRY_*/RESPONDER_*/REDIS_URL settings, writes to a log file (read it when a test fails), and
dies with the test session if pytest is killed. `wait_http` is devtools.processes's own."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from devtools.processes import CONFIG_PREFIXES, Child, free_port, temp_log, wait_http

LOGS: list[Path] = []  # this session's log files: removed at its end when every test passed (conftest)


class Proc(Child):
    def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
        log = temp_log("responder-proc-")
        LOGS.append(log)
        super().__init__([sys.executable, *args], env, output=log, strip_env=CONFIG_PREFIXES)


@contextlib.contextmanager
def _served(app_factory: str, env: Mapping[str, str], port: int | None = None) -> Iterator[tuple[Proc, str]]:
    port = port or free_port()
    proc = Proc(["-m", "uvicorn", "--factory", app_factory, "--port", str(port),
                 "--no-access-log", "--log-level", "warning"], env).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", child=proc)
        yield proc, url
    finally:
        proc.stop()


def gateway(env: Mapping[str, str], port: int | None = None) -> contextlib.AbstractContextManager[tuple[Proc, str]]:
    return _served("gateway.app:app_from_env", env, port)


@contextlib.contextmanager
def standin(latency_s: float = 0.0) -> Iterator[str]:
    with _served("standin.app:app_from_env", {"STANDIN_LATENCY_S": str(latency_s)}) as (_proc, url):
        yield url


def worker(env: Mapping[str, str]) -> Proc:
    return Proc(["-m", "cli.main", "worker"], env).start()
