"""`sentry-responder`: run the gateway or the worker, the whole system for development, and the
small ops chores (send a test delivery, list jobs, replay the dead, check the configuration)."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.tables import jobs_table
from shared.jobs import JobRecord, JobState
from shared.replies import texts
from shared.settings import Settings, SettingsError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True, soft_wrap=True)  # one line per message, even when long


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command()
def gateway(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="server processes")] = 1,
) -> None:
    """Serve the webhook endpoint, the dashboard and the ops API."""
    import uvicorn

    os.environ["RESPONDER_BIND_HOST"] = host  # the app (in each server process) reads it
    settings = settings_or_exit()
    from gateway.spool import SpoolInsecure, prepare_directory

    try:
        settings.require_gateway()
        prepare_directory(settings.spool_dir)
    except (SettingsError, SpoolInsecure) as exc:
        console.print(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(2) from None
    warn_if_ops_routes_off(settings)
    uvicorn.run(
        "gateway.app:app_from_env", factory=True, host=host, port=port, workers=workers,
        access_log=False, log_config=None, loop="auto", http="auto", timeout_graceful_shutdown=10,
        limit_concurrency=settings.max_connections,  # beyond it: 503 at once, nothing buffered
    )


def warn_if_ops_routes_off(settings: Settings) -> None:
    """Listening beyond loopback without a dashboard token: the ops routes are off; say so once."""
    from gateway.ops.auth import ops_open_without_token
    from shared.logging import configure_logging

    if settings.dashboard_token is None and not ops_open_without_token(settings.bind_host):
        import structlog

        configure_logging(settings.log_format, settings.log_level, settings.secret_values())
        structlog.get_logger("gateway").warning(
            "ops_routes_off", bind_host=settings.bind_host,
            detail="listening on a non-loopback address without RESPONDER_DASHBOARD_TOKEN: the dashboard "
            "and /api answer 403; set a token of 32+ characters to use them",
        )


@app.command()
def worker() -> None:
    """Process queued deliveries until SIGTERM (running jobs finish within the grace period)."""
    from worker.main import run_worker

    settings = settings_or_exit()
    try:
        run_worker(settings)
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command()
def mcp(
    caller: Annotated[
        str | None, typer.Option("--as", help="a RESPONDER_SERVICE_TOKENS name to act as; read-only without")
    ] = None,
) -> None:
    """Serve the read/act API's tools to an agent over stdio (Model Context Protocol)."""
    from gateway.sentry_api.stdio import run_stdio
    from shared.logging import configure_logging

    settings = settings_or_exit()
    configure_logging(settings.log_format, settings.log_level, settings.secret_values())  # to stderr
    try:
        run_stdio(settings, caller)
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command("check-config")
def check_config() -> None:
    """Validate the settings and the rules file; print the mode the responder will run in."""
    from worker.rules import RulesError, load_rule_sets

    settings = settings_or_exit()
    problems = []
    from gateway.sentry_api.tokens import parse_tokens

    for check in (settings.require_gateway, settings.require_sentry, lambda: parse_tokens(settings.service_tokens)):
        try:
            check()
        except SettingsError as exc:
            problems.append(str(exc))
    try:
        rule_sets = load_rule_sets(settings)
    except RulesError as exc:
        problems.append(str(exc))
        rule_sets = None
    mode = {
        "internal": "internal integration (SENTRY_AUTH_TOKEN)",
        "public": "public integration (SENTRY_CLIENT_ID; installation tokens encrypted with RESPONDER_TOKEN_KEY)",
        "payload-only": "no Sentry token: analysis from the payload only, dry run",
    }[settings.mode]
    console.print(f"mode:          {mode}")
    if settings.mode == "public":
        console.print(f"installations: {_installations(settings)}")
    console.print(f"organization:  {settings.organization or '-'}")
    console.print(f"Sentry API:    {settings.base_url}")
    console.print(f"dry run:       {'yes' if settings.dry_run else 'no'}")
    ops = (f"token (sessions {settings.dashboard_session_s / 3600:g} h)" if settings.dashboard_token is not None
           else "no token: served on a loopback-bound gateway only, never through a proxy")
    console.print(f"ops routes:    {ops}")
    console.print(f"Redis:         {settings.redis.describe()}")
    console.print(f"client secrets:{len(settings.client_secrets):>2} configured")
    if rule_sets is not None:
        source = settings.rules_path or "built-in defaults"
        rules = rule_sets.default
        console.print(f"rules:         {source} ({len(rules.playbooks)} playbooks, {rules.mode})")
        for org, rules in rule_sets.by_org.items():
            console.print(f"  for {org}: {rule_sets.files[org]} ({len(rules.playbooks)} playbooks, {rules.mode})")
    for problem in problems:
        console.print(f"[red]error:[/] {problem}")
    raise typer.Exit(2 if problems else 0)


def _installations(settings: Settings) -> str:
    """The organizations installed, read from Redis (if it answers)."""
    import redis as sync_redis

    from shared import keys
    from shared.redis import connect_sync

    try:
        orgs: list[bytes] = connect_sync(settings.redis).hkeys(  # type: ignore[assignment]
            keys.INSTALLATIONS_BY_ORG
        )
    except sync_redis.RedisError as exc:
        return f"unknown (Redis: {type(exc).__name__})"
    names = sorted(texts(orgs))
    return f"{len(names)}" + (f" ({', '.join(names)})" if names else "")


@app.command("new-token-key")
def new_token_key() -> None:
    """Print a new key for RESPONDER_TOKEN_KEY (to rotate: put it first, keep the old one after it)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())


@app.command("send-test")
def send_test(
    url: Annotated[str, typer.Option(help="the gateway's base URL")] = "http://127.0.0.1:8000",
    resource: Annotated[str, typer.Option(help="a fixture: issue.created, error.created, ...")] = "issue.created",
) -> None:
    """Post a correctly signed sample webhook (one of Sentry's published examples)."""
    from cli.demo import fixture, post

    settings = settings_or_exit()
    if not settings.client_secrets:
        console.print("[red]configuration error:[/] SENTRY_CLIENT_SECRET: not set; needed to sign")
        raise typer.Exit(2)
    try:
        payload = fixture(resource)
    except FileNotFoundError:
        console.print(f"[red]no fixture named {resource}[/]")
        raise typer.Exit(2) from None
    response = post(url, resource.split(".")[0], fresh(payload), settings.client_secrets[0].get_secret_value())
    console.print(f"{response.status_code} {response.text}")
    raise typer.Exit(0 if response.status_code == 202 else 1)


def fresh(payload: dict[str, Any]) -> dict[str, Any]:
    """A new delivery each time, as Sentry's are: the gateway takes a byte-identical body once
    (replay protection), so the sample gets a new event id and the issue a new last-seen time."""
    data = payload.get("data")
    if isinstance(data, dict):
        if isinstance(data.get("event"), dict):
            data["event"]["event_id"] = uuid.uuid4().hex
        if isinstance(data.get("issue"), dict):
            data["issue"]["lastSeen"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return payload


async def _recent(settings: Settings, limit: int, state: JobState | None) -> list[JobRecord]:
    from shared.jobstore import JobStore
    from shared.redis import connect

    redis = connect(settings.redis)
    try:
        return await JobStore(redis).recent(limit, state)
    finally:
        await redis.aclose()


@app.command()
def jobs(
    state: Annotated[JobState | None, typer.Option(help="only jobs in this state")] = None,
    limit: Annotated[int, typer.Option(help="how many")] = 20,
) -> None:
    """List recent jobs and their states."""
    settings = settings_or_exit()
    Console().print(jobs_table(asyncio.run(_recent(settings, limit, state))))


@app.command()
def replay(
    delivery_id: Annotated[str | None, typer.Argument(help="the dead or failed job to replay")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="replay every dead job")] = False,
) -> None:
    """Queue a dead (or failed) job again, or all dead jobs."""
    from shared.jobs import REPLAYABLE_STATES
    from shared.jobstore import JobStore
    from shared.queue import DeliveryQueue
    from shared.redis import connect
    from shared.replay import replay_dead, replay_job

    if not delivery_id and not all_dead:
        console.print("give a delivery id or --all-dead")
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def run() -> tuple[int, str]:
        """How many jobs went back on the queue, and why none did when one was named."""
        redis = connect(settings.redis)
        try:
            store = JobStore(redis)
            queue = DeliveryQueue(redis, settings.queue_name, settings.dedup_ttl_s)
            if all_dead:
                return await replay_dead(store, queue), ""
            if await replay_job(store, queue, str(delivery_id)):
                return 1, ""
            record = await store.get(str(delivery_id))
            if record is None or record.state not in REPLAYABLE_STATES:
                return 0, f"no such dead-lettered job: {delivery_id}" + (
                    f" (it is {record.state.value}; only dead or failed jobs replay)" if record else ""
                )
            return 0, f"job {delivery_id} has no payload left to replay"
        finally:
            await redis.aclose()

    replayed, why_not = asyncio.run(run())
    if why_not:
        console.print(why_not, markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"replayed {replayed} job(s)")


@app.command()
def undo(
    delivery_id: Annotated[str, typer.Argument(help="the job whose status change and assignment to undo")],
) -> None:
    """Put the issue back as it was before the job's write-back, unless a person changed it since."""
    import getpass
    import socket

    from shared.redis import connect
    from shared.sentry.errors import SentryError
    from shared.sentry_access import client_for
    from shared.undo import UndoRefused, load_undo, undo_write

    settings = settings_or_exit()
    by = f"cli ({getpass.getuser()}@{socket.gethostname()})"

    async def run() -> dict[str, object]:
        redis = connect(settings.redis)
        try:
            record = await load_undo(redis, delivery_id)
            if record is None:
                raise UndoRefused(404, "nothing_to_undo", "no automated status change or assignment is recorded")
            async with client_for(settings, redis, record.organization, record.installation) as client:
                return (await undo_write(redis, client, delivery_id, by)).restored
        finally:
            await redis.aclose()

    try:
        restored = asyncio.run(run())
    except UndoRefused as exc:
        console.print(f"[red]not undone:[/] {exc.detail}")
        for name, change in exc.changed.items():
            console.print(f"  {name}: the responder set {change['ours']}, now {change['now']}")
        raise typer.Exit(1) from None
    except (SettingsError, SentryError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    done = ", ".join(f"{k} back to {v if v is not None else 'nobody'}" for k, v in restored.items())
    console.print(f"undone by {by}: {done or 'nothing needed restoring'}")


@app.command()
def backtest(
    rules_file: Annotated[Path, typer.Option("--rules", help="the rules file to try")],
    since: Annotated[str, typer.Option(help="issues seen within this period (14d, 24h, 2w)")] = "14d",
    project: Annotated[list[str] | None, typer.Option(help="a project slug (repeat for several)")] = None,
    query: Annotated[str, typer.Option(help="Sentry search query")] = "is:unresolved",
    limit: Annotated[int | None, typer.Option(min=1, help="stop after this many issues")] = None,
    as_delivery: Annotated[str, typer.Option("--as", help="the delivery each issue is treated as")] = "issue.created",
    out: Annotated[Path | None, typer.Option(help="also write the report as one HTML page")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON instead of tables")] = False,
    fresh: Annotated[bool, typer.Option(help="start over instead of resuming an interrupted run")] = False,
) -> None:
    """Run the rules over the organization's past issues: what they would have done, writing nothing."""
    from cli.backtest_cmd import BacktestOptions, run_backtest
    from worker.rules import RulesError

    settings = settings_or_exit()
    options = BacktestOptions(rules_file=rules_file, since=since, projects=project or [], query=query, limit=limit,
                              as_delivery=as_delivery, out=out, as_json=as_json, fresh=fresh)
    try:
        code = asyncio.run(run_backtest(settings, options, console))
    except (RulesError, SettingsError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("interrupted: run the same command again to resume from the last page")
        raise typer.Exit(130) from None
    raise typer.Exit(code)


rules_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Work with a rules file.")
app.add_typer(rules_app, name="rules")


@rules_app.command("test")
def rules_test(
    rules_file: Annotated[Path, typer.Argument(help="the rules file (YAML)")],
    payload: Annotated[Path, typer.Option("--payload", help="a delivery's JSON body, as Sentry posts it")],
    issue: Annotated[Path | None, typer.Option("--issue", help="the issue as the API returns it")] = None,
    resource: Annotated[str | None, typer.Option(help="issue, error, event_alert... (default: from payload)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the explanation as JSON")] = False,
) -> None:
    """Explain, offline, which playbooks match a delivery, condition by condition, and the plan."""
    from cli.rules_test import PayloadError, print_explanation, run
    from worker.rules import RulesError, load_rules

    try:
        result = run(payload, issue, resource, load_rules(rules_file))
    except (RulesError, PayloadError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_explanation(Console(soft_wrap=True), result)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="the gateway's port")] = 8000,
    demo: Annotated[bool, typer.Option(help="post the demo webhooks once everything is up")] = True,
    exit_after_demo: Annotated[bool, typer.Option(help="stop once the demo's jobs are done")] = False,
) -> None:
    """Gateway + worker + Redis in one terminal; a Sentry stand-in when no token is configured."""
    from cli.devrun import run_dev

    raise typer.Exit(run_dev(port=port, demo=demo, exit_after_demo=exit_after_demo, console=console))


def main() -> None:  # pragma: no cover - `python -m cli.main`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
