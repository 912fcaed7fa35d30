"""Run a backtest: page through the organization's issues, fetch each one's latest event within a
share of the Sentry budget, plan as the worker would, write nothing to Sentry.

Progress is kept in Redis after every page (the cursor and the report so far, in one write), so an
interrupted backtest resumes from its last cursor when run again with the same rules and options.
Latest events are read from the worker's cache when it has them, else from the backtest's own
cache (kept a day), so a resumed or repeated run does not fetch them again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from shared import keys
from shared.sentry.client import SentryClient
from shared.sentry.errors import SentryError, SentryNotFound
from shared.sentry.models import Event, Issue
from shared.sentry.redact import redact
from worker.analysis.registry import HandlerRegistry
from worker.backtest import BacktestReport, IssueBrief, backtest_issue
from worker.fetch import now
from worker.rules import Rules
from worker.trail import issue_web_url

CACHE_S = keys.DAY_S
KEEP_S = 30 * keys.DAY_S
PAGE_SIZE = 100


class BacktestParams(BaseModel):
    organization: str
    rules: str  # the file's path, for people
    rules_digest: str  # its content's hash: other rules are another backtest
    since: str | None = "14d"
    projects: list[str] = Field(default_factory=list)
    query: str = "is:unresolved"
    limit: int | None = None
    resource: str = "issue.created"

    def backtest_id(self) -> str:
        return hashlib.sha256(self.model_dump_json(exclude={"rules"}).encode()).hexdigest()[:16]


class BacktestState(BaseModel):
    id: str
    params: BacktestParams
    state: str = "running"  # running, interrupted, done
    cursor: str | None = None
    started_at: float = Field(default_factory=time.time)
    report: BacktestReport


async def load_state(redis: Redis, backtest_id: str) -> BacktestState | None:
    raw = await redis.hget(keys.backtest(backtest_id), "state_json")  # type: ignore[misc]
    return BacktestState.model_validate_json(raw) if raw else None


async def save_state(redis: Redis, state: BacktestState) -> None:
    now_s = time.time()
    key = keys.backtest(state.id)
    fields = {
        "state_json": state.model_dump_json(), "rules": state.params.rules, "state": state.state,
        "started_at": repr(state.started_at), "updated_at": repr(now_s), "issues": state.report.issues,
        "matched": state.report.matched, "pages": state.report.pages,
        "params": state.params.model_dump_json(exclude={"rules_digest"}),
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=fields)
        pipe.expire(key, KEEP_S)
        pipe.zadd(keys.BACKTESTS, {state.id: now_s})
        await pipe.execute()


async def latest_event(redis: Redis, client: SentryClient, issue_id: str) -> Event | None:
    for key in (keys.cached("event", issue_id), keys.backtest_cache("event", issue_id)):
        raw = await redis.get(key)
        if raw:
            return Event.model_validate_json(raw)
    try:
        event = await client.get_event(issue_id, "latest")
    except SentryNotFound:
        return None
    await redis.set(keys.backtest_cache("event", issue_id), event.model_dump_json(by_alias=True), ex=CACHE_S)
    return event


Progress = Callable[[BacktestState, int | None], None]  # (state so far, total issues if known)


@dataclass
class Backtest:
    redis: Redis
    client: SentryClient
    rules: Rules
    registry: HandlerRegistry
    base_url: str

    async def start(self, params: BacktestParams, fresh: bool = False) -> BacktestState:
        """Resume the backtest with these parameters if it was interrupted, else start it anew."""
        ident = params.backtest_id()
        state = None if fresh else await load_state(self.redis, ident)
        if state is None or state.state == "done":
            state = BacktestState(id=ident, params=params, report=BacktestReport.for_rules(self.rules))
        state.state = "running"
        await save_state(self.redis, state)
        return state

    async def run(self, state: BacktestState, progress: Progress | None = None) -> BacktestState:
        params = state.params
        resource, _, action = params.resource.partition(".")
        try:
            while True:
                remaining = None if params.limit is None else params.limit - state.report.issues
                if remaining is not None and remaining <= 0:
                    break
                page = await self.client.list_org_issues(
                    query=params.query, projects=params.projects, stats_period=params.since,
                    cursor=state.cursor, limit=PAGE_SIZE,
                )
                total = min(page.hits, params.limit or page.hits) if page.hits is not None else params.limit
                for issue in page.items[:remaining]:
                    await self._one(state, issue, resource, action or "created")
                    if progress is not None:
                        progress(state, total)
                state.report.pages += 1
                state.cursor = page.next_cursor
                await save_state(self.redis, state)  # the report and the cursor after it, together
                if page.next_cursor is None:
                    break
        except (asyncio.CancelledError, KeyboardInterrupt):
            state.state = "interrupted"
            await asyncio.shield(self._mark(state.id, "interrupted"))
            raise
        except SentryError:
            await self._mark(state.id, "interrupted")
            raise
        state.state = "done"
        await save_state(self.redis, state)
        return state

    async def _mark(self, ident: str, value: str) -> None:
        """Only the state: the report and cursor stay as saved after the last whole page."""
        saved = await load_state(self.redis, ident)
        if saved is not None:
            saved.state = value
            await save_state(self.redis, saved)

    async def _one(self, state: BacktestState, issue: Issue, resource: str, action: str) -> None:
        try:
            event = await latest_event(self.redis, self.client, issue.id)
        except SentryError:
            state.report.fetch_errors += 1
            event = None
        plan, conflicts = backtest_issue(issue, event, self.rules, self.registry,
                                         resource=resource, action=action, now=now())
        brief = IssueBrief(id=issue.id, title=redact(issue.title), project=issue.project.slug,
                           web_url=issue_web_url(self.base_url, state.params.organization, issue.id, issue.permalink))
        state.report.add(brief, plan, conflicts)


def rules_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def report_json(state: BacktestState) -> str:
    return json.dumps({"id": state.id, "state": state.state, "params": state.params.model_dump(),
                       "report": state.report.model_dump(mode="json")}, indent=2)
