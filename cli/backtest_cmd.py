"""`sentry-responder backtest`: wires settings, Redis, a Sentry client on a share of the budget and
the rules to worker/backtest_run.py, with a progress bar, then shows or writes the report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.backtest_report import print_report, render_html
from shared import keys
from shared.redis import connect
from shared.sentry.client import SentryClient
from shared.sentry_access import client_for
from shared.settings import Settings, SettingsError
from worker.analysis.registry import default_registry
from worker.backtest_run import Backtest, BacktestParams, BacktestState, report_json, rules_digest
from worker.rules import load_rules

PERIOD = re.compile(r"^\d+[smhdw]$")
DELIVERY = re.compile(r"^(issue|error|event_alert)\.[a-z_]+$")


@dataclass
class BacktestOptions:
    rules_file: Path
    since: str | None = "14d"
    projects: list[str] = field(default_factory=list)
    query: str = "is:unresolved"
    limit: int | None = None
    as_delivery: str = "issue.created"
    out: Path | None = None
    as_json: bool = False
    fresh: bool = False
    transport: httpx.AsyncBaseTransport | None = None  # tests: a transport to the stand-in


def check(options: BacktestOptions) -> None:
    if options.since and not PERIOD.match(options.since):
        raise ValueError(f"--since {options.since!r}: give a number and a unit, e.g. 14d, 24h, 2w")
    if not DELIVERY.match(options.as_delivery):
        raise ValueError(f"--as {options.as_delivery!r}: give resource.action, e.g. issue.created")


async def run_backtest(settings: Settings, options: BacktestOptions, console: Console) -> int:
    check(options)
    rules = load_rules(options.rules_file)
    redis = connect(settings.redis)
    try:
        organization = settings.organization
        installation = None
        if settings.mode == "public":
            found = await redis.hgetall(keys.INSTALLATIONS_BY_ORG)  # type: ignore[misc]
            if len(found) != 1:
                raise SettingsError("SENTRY_ORGANIZATION: name the organization to backtest (several are installed)"
                                    if found and not organization else "no organization is installed")
            org_b, uuid_b = next(iter(found.items()))
            organization, installation = organization or org_b.decode(), uuid_b.decode()
        if not organization:
            raise SettingsError("SENTRY_ORGANIZATION: required for a backtest")
        params = BacktestParams(
            organization=organization, rules=str(options.rules_file),
            rules_digest=rules_digest(options.rules_file.read_text()), since=options.since,
            projects=options.projects, query=options.query, limit=options.limit, resource=options.as_delivery,
        )
        async with client_for(settings, redis, organization, installation, options.transport,
                              budget_share=settings.backtest_budget_share) as client:
            state = await _run(Backtest(redis, client, rules, default_registry(), settings.base_url),
                               params, options, console, client)
    finally:
        await redis.aclose()
    if options.out is not None:
        options.out.write_text(render_html(state))
        console.print(f"report written to {options.out}")
    if options.as_json:
        print(report_json(state))
    else:
        print_report(Console(soft_wrap=True), state)
    return 0


async def _run(backtest: Backtest, params: BacktestParams, options: BacktestOptions, console: Console,
               client: SentryClient) -> BacktestState:
    state = await backtest.start(params, fresh=options.fresh)
    if state.report.issues:
        console.print(f"resuming backtest {state.id} after {state.report.issues} issues ({state.report.pages} pages)")
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=options.as_json) as bar:
        task = bar.add_task("issues", total=None, completed=state.report.issues)

        def progress(current: BacktestState, total: int | None) -> None:
            bar.update(task, completed=current.report.issues, total=total)

        return await backtest.run(state, progress)
