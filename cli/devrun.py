"""`sentry-responder dev`: Redis, the Sentry stand-in, the gateway and the worker, then the demo.

`dev` owns its children: SIGINT, SIGTERM and SIGHUP (the terminal closed) stop them with it, and
they die with it if it is killed (devtools/processes.py). It refuses a gateway port already in use,
checks readiness against the gateway it started (a per-run instance id in /healthz), and reports
a failed start or demo in one line.
"""

from __future__ import annotations

import os
import secrets
import signal
import tempfile
import time
from contextlib import ExitStack
from importlib.resources import files
from types import FrameType

import httpx
from redis import Redis as SyncRedis
from rich.console import Console
from rich.live import Live

from cli.tables import jobs_table
from devtools.embedded_redis import EmbeddedRedis
from devtools.processes import Child, NotReady, Output, PortInUse, check_port_free, free_port, http_ready
from shared import keys
from shared.jobs import FINAL_STATES, JobRecord
from shared.jobstore import decode_record
from shared.redis import connect_sync
from shared.settings import load_settings
from standin.app import DEMO_TOKEN


def records(redis: SyncRedis, ids: list[str]) -> list[JobRecord]:
    pipe = redis.pipeline(transaction=False)
    for delivery_id in ids:
        pipe.hgetall(keys.job(delivery_id))
    return [decode_record(raw) for raw in pipe.execute() if raw]


class Stopped(Exception):
    """SIGINT, SIGTERM or SIGHUP: unwind, so every child is stopped on the way out."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop(signum: int, _frame: FrameType | None) -> None:
    for sig in STOP_SIGNALS:  # one stop at a time: a second Ctrl-C must not cut the cleanup short
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signal.Signals(signum).name)


class DemoFailed(Exception):
    """The demo could not post or follow its deliveries: one line, no traceback."""


def _error(console: Console, exc: Exception) -> None:
    """The message as written: a child's log lines may hold `[` and `]`, which are not markup."""
    console.print("[red]error:[/] ", end="")
    console.print(str(exc), markup=False, highlight=False)


def run_dev(port: int, demo: bool, exit_after_demo: bool, console: Console) -> int:
    try:
        check_port_free(port)
    except PortInUse as exc:
        _error(console, exc)
        return 2
    previous = {sig: signal.signal(sig, _stop) for sig in STOP_SIGNALS}
    try:
        return _run(port, demo, exit_after_demo, console)
    except Stopped:  # the children were stopped on the way out
        console.print("stopped.")
        return 0
    except (NotReady, DemoFailed) as exc:
        _error(console, exc)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(port: int, demo: bool, exit_after_demo: bool, console: Console) -> int:
    env: dict[str, str] = {
        "RESPONDER_LOG_FORMAT": os.environ.get("RESPONDER_LOG_FORMAT", "console"),
        # The live table shows progress; the processes speak up only for warnings.
        "RESPONDER_LOG_LEVEL": os.environ.get("RESPONDER_LOG_LEVEL", "WARNING"),
    }
    if not os.environ.get("RESPONDER_RULES"):
        env["RESPONDER_RULES"] = str(files("cli").joinpath("demo_rules.yaml"))
    with ExitStack() as stack:
        if not os.environ.get("REDIS_URL"):
            redis_server = stack.enter_context(EmbeddedRedis())
            env["REDIS_URL"] = redis_server.url
            console.print(f"[dim]embedded Redis on {redis_server.url} (data in {redis_server.data_dir})[/]")
        redis_url = env.get("REDIS_URL") or os.environ["REDIS_URL"]
        if not os.environ.get("SENTRY_CLIENT_SECRET"):
            env["SENTRY_CLIENT_SECRET"] = secrets.token_hex(16)
        secret = (env.get("SENTRY_CLIENT_SECRET") or os.environ["SENTRY_CLIENT_SECRET"]).split(",")[0].strip()
        standin_url = None
        if not os.environ.get("SENTRY_AUTH_TOKEN"):
            standin_port = free_port()
            standin_url = f"http://127.0.0.1:{standin_port}"
            standin = stack.enter_context(child(
                ["-m", "uvicorn", "--factory", "standin.app:app_from_env", "--port", str(standin_port),
                 "--no-access-log", "--log-level", "warning"],
                {"STANDIN_ORGANIZATION": "demo-org", "STANDIN_TOKEN": DEMO_TOKEN}, quiet=True,
            ))
            standin.wait_ready(http_ready(standin_url + "/healthz"), standin_url + "/healthz")
            env |= {"SENTRY_BASE_URL": standin_url + "/api/0/", "SENTRY_AUTH_TOKEN": DEMO_TOKEN,
                    "SENTRY_ORGANIZATION": "demo-org", "RESPONDER_DRY_RUN": "0"}
            console.print(f"[dim]Sentry stand-in on {standin_url} (no SENTRY_AUTH_TOKEN set)[/]")
        spool = stack.enter_context(tempfile.TemporaryDirectory(prefix="responder-spool-"))
        env.setdefault("RESPONDER_SPOOL_DIR", os.environ.get("RESPONDER_SPOOL_DIR", spool))
        gateway_url = f"http://127.0.0.1:{port}"
        instance = secrets.token_hex(8)  # /healthz names it: the gateway answering is the one started here
        gateway = stack.enter_context(child(
            ["-m", "cli.main", "gateway", "--port", str(port)], env | {"RESPONDER_INSTANCE_ID": instance},
        ))
        stack.enter_context(child(["-m", "cli.main", "worker"], env))
        ready = http_ready(gateway_url + "/readyz", instance=instance, health_url=gateway_url + "/healthz")
        gateway.wait_ready(ready, gateway_url + "/readyz")
        console.print(f"[bold green]up:[/] webhooks at {gateway_url}/webhooks/sentry · dashboard at {gateway_url}/")
        if demo:
            show_demo(gateway_url, redis_url, secret, standin_url, console)
        if exit_after_demo:
            return 0
        console.print("[dim]Ctrl-C stops everything.[/]")
        while gateway.returncode is None:
            time.sleep(0.5)
        console.print(f"[red]error:[/] the gateway exited with code {gateway.returncode}")
    return 1


def child(args: list[str], env: dict[str, str], quiet: bool = False) -> Child:
    """`dev`'s children: this Python, `dev`'s environment plus `env`, output on the terminal."""
    return Child.python(args, env, output=Output.DEVNULL if quiet else Output.INHERIT, stop_timeout_s=15)


def show_demo(gateway_url: str, redis_url: str, secret: str, standin_url: str | None, console: Console) -> None:
    """Post the demo deliveries and watch their jobs to the end in a live table."""
    from cli.demo import demo_deliveries, post

    ids = []
    for resource, payload in demo_deliveries():
        try:
            response = post(gateway_url, resource, payload, secret)
        except httpx.HTTPError as exc:
            raise DemoFailed(f"demo: posting a {resource} delivery failed: {type(exc).__name__}") from None
        if response.status_code != 202 or "id" not in response.json():
            raise DemoFailed(f"demo: the gateway answered {response.status_code}: {response.text[:200]}")
        ids.append(response.json()["id"])
    redis = connect_sync(load_settings(REDIS_URL=redis_url).redis)  # TLS, ACL, Sentinel as configured
    deadline = time.monotonic() + 60
    with Live(console=console, refresh_per_second=4) as live:
        while True:
            current = records(redis, ids)
            live.update(jobs_table(current, title="demo deliveries"))
            done = all(r.state in FINAL_STATES for r in current) and len(current) == len(ids)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.25)
    if standin_url:
        state = httpx.get(standin_url + "/_standin/state", timeout=5).json()
        notes = sum(len(n) for n in state["notes"].values())
        console.print(f"\n[bold]stand-in received:[/] {notes} comments on {len(state['notes'])} issues, "
                      f"{len(state['updates'])} status/assignment changes")
        for issue_id, issue_notes in state["notes"].items():
            summary = issue_notes[0]["data"]["text"].split("\n\n", 1)[0] if issue_notes else ""
            console.print(f"\n[bold]issue {issue_id}[/]")
            console.print(summary, markup=False, highlight=False)
            for line in actions_taken(issue_notes[0]["data"]["text"].splitlines() if issue_notes else []):
                console.print(f"    {line}", markup=False)


def actions_taken(comment_lines: list[str]) -> list[str]:
    """The outcome lines the worker edited into its comment (worker/writeback.py)."""
    if "**Actions taken:**" not in comment_lines:
        return []
    start = comment_lines.index("**Actions taken:**") + 1
    return [line.removeprefix("- ").replace("\\", "") for line in comment_lines[start:] if line.startswith("- ")]
