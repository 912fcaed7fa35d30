"""The backtest end to end against the Sentry stand-in: 540+ issues over six pages, interrupted after
250 and resumed from its last cursor by the CLI, events fetched once, nothing written to Sentry."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from rich.console import Console
from starlette.applications import Starlette
from typer.testing import CliRunner

from cli.backtest_cmd import BacktestOptions, run_backtest
from cli.main import app
from shared.sentry.client import SentryClient
from shared.sentry.ratelimit import BudgetShare
from shared.settings import Settings
from standin.app import create_standin
from standin.org_issues import _seen_s
from tests.helpers import TOKEN
from tests.test_trust import served_standin  # noqa: F401  (fixture)
from worker.analysis.registry import default_registry
from worker.backtest_run import Backtest, BacktestParams, BacktestState, load_state, rules_digest
from worker.rules import load_rules

RULES = """
mode: all_matches
playbooks:
  - name: database
    when: {title: "^OperationalError"}
    actions: {comment: true, resolve: true, allow_destructive: true}
  - name: keep-fatal-visible
    when: {level: [fatal]}
    actions: {unresolve: true}
  - name: billing-team
    when: {project: [billing-api]}
    actions: {assign: "team:2"}
  - name: partner-timeouts
    when: {title: "partner_api"}
    actions: {ignore: {minutes: 60}, assign: "team:3", allow_destructive: true}
  - name: try-health
    mode: shadow
    when: {title: "health check"}
    actions: {resolve: true, allow_destructive: true}
"""
GENERATED = 600  # every tenth is resolved: 540 unresolved ones (and a few seeded), six pages of 100


@pytest.fixture
def standin() -> Starlette:
    return create_standin("test-org", TOKEN)


async def generate(standin: Starlette) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=standin), base_url="http://standin") as http:
        assert (await http.post("/_standin/generate", json={"count": GENERATED})).status_code == 200


def unresolved_in_30_days(standin: Starlette) -> int:
    horizon = time.time() - 30 * 86400
    return sum(1 for i in standin.state.standin.issues.values()
               if i["status"] == "unresolved" and _seen_s(i) >= horizon)


def calls(standin: Starlette, endpoint: str) -> list[dict[str, Any]]:
    return [c for c in standin.state.standin.calls if c["endpoint"] == endpoint]


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


def bt_settings(make_settings: Callable[..., Settings], base_url: str) -> Settings:
    return make_settings(SENTRY_AUTH_TOKEN=TOKEN, SENTRY_ORGANIZATION="test-org", SENTRY_BASE_URL=base_url,
                         RESPONDER_SENTRY_RATE_LIMIT_PER_MIN="100000")


class Interrupt(Exception):
    pass


async def test_backtest_over_540_issues_interrupted_then_resumed_by_the_cli(
    standin: Starlette, served_standin: str, rules_file: Path, redis: Redis,  # noqa: F811
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client_for: Any,
) -> None:
    await generate(standin)
    settings = bt_settings(make_settings, served_standin)
    params = BacktestParams(organization="test-org", rules=str(rules_file), rules_digest=rules_digest(RULES),
                            since="30d")
    rules = load_rules(rules_file)
    expected = unresolved_in_30_days(standin)
    assert 540 <= expected <= 600

    def stop_after_250(state: BacktestState, total: int | None) -> None:
        assert total == expected
        if state.report.issues == 250:
            raise Interrupt

    async with SentryClient.from_settings(settings, redis, transport=httpx.ASGITransport(app=standin)) as client:
        backtest = Backtest(redis, client, rules, default_registry(load_plugins=False), settings.base_url)
        state = await backtest.start(params)
        with pytest.raises(Interrupt):
            await backtest.run(state, stop_after_250)
    saved = await load_state(redis, params.backtest_id())
    assert saved is not None and saved.cursor == "0:200:0" and saved.report.issues == 200
    assert len(calls(standin, "issues")) == 3 and len(calls(standin, "event")) == 250

    # The same command again resumes at the third page: the CLI, over real HTTP to the same stand-in.
    for name, value in {"SENTRY_AUTH_TOKEN": TOKEN, "SENTRY_ORGANIZATION": "test-org", "SENTRY_BASE_URL": served_standin,
                        "REDIS_URL": settings.redis_url, "RESPONDER_SENTRY_RATE_LIMIT_PER_MIN": "100000"}.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "report.html"
    result = await asyncio.to_thread(CliRunner().invoke, app, [
        "backtest", "--rules", str(rules_file), "--since", "30d", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert "resuming backtest" in result.stderr
    stdout = result.stdout  # the in-process stand-in logs its calls to stdout too: skip them
    report = json.loads(stdout[stdout.index('{\n  "id"'):])["report"]
    assert report["issues"] == expected and report["pages"] == 6
    list_calls = calls(standin, "issues")
    assert len(list_calls) == 3 + 4  # page 3 again, then pages 4 to 6
    assert len(calls(standin, "event")) == expected  # each latest event fetched once: page 3's 50 came from the cache
    assert standin.state.standin.updates == [] and standin.state.standin.notes == {}  # wrote nothing

    books = report["playbooks"]
    assert books["database"]["matched"] >= 100 and books["database"]["actions"]["comment"] == books["database"]["matched"]
    health = books["try-health"]
    assert health["mode"] == "shadow" and health["matched"] >= 100 and health["actions"] == {"resolve": health["matched"]}
    assert books["partner-timeouts"]["actions"]["ignore"] >= 1
    assert report["unmatched"] > 0 and report["unmatched"] + report["matched"] == expected
    assert report["conflicts"] > 0
    fatal_db = [c for c in report["conflict_samples"] if c["kind"] == "status"]
    assert fatal_db and all(c["winner"] == "keep-fatal-visible" for c in fatal_db)
    assert any(c["kind"] == "assign" and c["winner"] == "billing-team" for c in report["conflict_samples"])
    assert report["comments"] and "Rules:" in report["comments"][0]["body"]

    page = out.read_text()
    assert "<script" not in page and "https://" not in page.split("<body>")[0]  # self-contained
    assert "Backtest of" in page and "keep-fatal-visible" in page

    gateway = await client_for()
    listed = (await gateway.get("/api/backtests")).json()["backtests"]
    assert listed[0]["state"] == "done" and listed[0]["issues"] == expected and listed[0]["pages"] == 6
    whole = (await gateway.get(f"/api/backtests/{listed[0]['id']}")).json()
    assert whole["report"]["issues"] == expected and whole["params"]["since"] == "30d"
    assert (await gateway.get("/api/backtests/nope")).status_code == 404


async def test_backtest_filters_by_project_and_limit_and_shows_a_table(
    standin: Starlette, rules_file: Path, redis: Redis, make_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    await generate(standin)
    settings = bt_settings(make_settings, "http://standin.test/api/0/")
    console = Console(file=io.StringIO(), width=200)
    options = BacktestOptions(rules_file=rules_file, since="30d", projects=["billing-api"], limit=120,
                              transport=httpx.ASGITransport(app=standin))
    assert await run_backtest(settings, options, console) == 0
    state = await load_state(redis, BacktestParams(
        organization="test-org", rules=str(rules_file), rules_digest=rules_digest(RULES), since="30d",
        projects=["billing-api"], limit=120).backtest_id())
    assert state is not None and state.state == "done" and state.report.issues == 120
    assert state.report.playbooks["billing-team"].matched == 120
    table = capsys.readouterr().out
    assert f"backtest {state.id}: 120 issues" in table and "billing-team" in table and "assign to team:2 x120" in table


async def test_bad_backtest_options_are_refused(rules_file: Path, make_settings: Callable[..., Settings]) -> None:
    settings = bt_settings(make_settings, "http://standin.test/api/0/")
    with pytest.raises(ValueError, match="--since"):
        await run_backtest(settings, BacktestOptions(rules_file=rules_file, since="fortnight"), Console())


async def test_budget_share_waits_until_live_work_leaves_room(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.sentry.ratelimit.BUDGET_POLL_S", 0.01)

    class Scripted:
        def __init__(self) -> None:
            self.left = [40, 45, 60]  # out of 100: the worker is busy, then it is not
            self.acquired = 0

        async def remaining(self) -> int:
            return self.left.pop(0) if len(self.left) > 1 else self.left[0]

        async def acquire(self, max_wait_s: float | None = None) -> float:
            self.acquired += 1
            return 0.0

        async def block_until(self, reset_epoch_s: float) -> None:
            pass

    inner = Scripted()
    assert await BudgetShare(inner, 100, 0.5).acquire() == 0.0
    assert inner.acquired == 1 and inner.left == [60]
