"""`sentry-responder dev`: Redis, the Sentry stand-in, the gateway and the worker, then the demo."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from contextlib import ExitStack
from importlib.resources import files

import httpx
from redis import Redis as SyncRedis
from rich.console import Console
from rich.live import Live

from cli.processes import child, wait_ready
from shared import keys
from shared.embedded_redis import EmbeddedRedis, free_port
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


def run_dev(port: int, demo: bool, exit_after_demo: bool, console: Console) -> int:
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
            wait_ready(standin_url + "/healthz", standin)
            env |= {"SENTRY_BASE_URL": standin_url + "/api/0/", "SENTRY_AUTH_TOKEN": DEMO_TOKEN,
                    "SENTRY_ORGANIZATION": "demo-org", "RESPONDER_DRY_RUN": "0"}
            console.print(f"[dim]Sentry stand-in on {standin_url} (no SENTRY_AUTH_TOKEN set)[/]")
        spool = stack.enter_context(tempfile.TemporaryDirectory(prefix="responder-spool-"))
        env.setdefault("RESPONDER_SPOOL_DIR", os.environ.get("RESPONDER_SPOOL_DIR", spool))
        gateway_url = f"http://127.0.0.1:{port}"
        gateway = stack.enter_context(child(["-m", "cli.main", "gateway", "--port", str(port)], env))
        stack.enter_context(child(["-m", "cli.main", "worker"], env))
        wait_ready(gateway_url + "/readyz", gateway)
        console.print(f"[bold green]up:[/] webhooks at {gateway_url}/webhooks/sentry · dashboard at {gateway_url}/")
        if demo:
            show_demo(gateway_url, redis_url, secret, standin_url, console)
        if exit_after_demo:
            return 0
        console.print("[dim]Ctrl-C stops everything.[/]")
        try:
            while gateway.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("\nstopping…")
    return 0


def show_demo(gateway_url: str, redis_url: str, secret: str, standin_url: str | None, console: Console) -> None:
    """Post the demo deliveries and watch their jobs to the end in a live table."""
    from cli.demo import demo_deliveries, post
    from cli.main import jobs_table  # cli.main imports this module: import at call time

    ids = []
    for resource, payload in demo_deliveries():
        response = post(gateway_url, resource, payload, secret)
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
