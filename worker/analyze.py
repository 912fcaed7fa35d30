"""Fetch, enrich and analyse one issue: the straight line from a delivery to findings and a plan.

The call allowance is worked out before the optional facts are fetched: the analysis may make
`analysis_max_calls` Sentry calls in all; the issue and event reads already made and the writes
the plan will need (found by planning once on the facts at hand) come first, the optional facts
get what is left. The plan is then made again on everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from redis.asyncio import Redis

from shared import keys
from shared.jobs import Delivery
from shared.sentry.client import SentryClient
from shared.sentry.models import Issue
from shared.settings import Settings
from worker.actions import AssignAction, Plan, StatusAction
from worker.analysis.base import AnalysisContext, Finding
from worker.analysis.facts import Facts
from worker.analysis.registry import HandlerRegistry, run_handlers
from worker.context import FetchCache, actor_of, fetch_issue_and_event
from worker.enrich import EnrichLimits, gather_facts
from worker.plan import build_plan
from worker.rules import Rules
from worker.singleflight import SingleFlight


@dataclass
class Analysis:
    ctx: AnalysisContext
    findings: list[Finding]
    plan: Plan


def writes_needed(plan: Plan, issue: Issue) -> int:
    """Sentry calls the write-back will make: a status the issue already has or an assignee it
    already has costs none (worker/writeback.py skips them the same way)."""
    calls = 0
    for action in plan.actions:
        if isinstance(action, StatusAction):
            calls += not (issue.status == action.status and action.substatus in (None, issue.substatus))
        elif isinstance(action, AssignAction):
            current = issue.assigned_to
            calls += not (current is not None and action.assignee in (
                f"{current.type}:{current.id}", current.name, current.email))
        else:
            calls += 1
    return calls


async def budget_room(client: SentryClient, settings: Settings) -> int | None:
    """Calls left in the shared budget above its reserve (None: no shared budget). Optional facts
    only ever spend from this room, so they never make the comments of other issues wait."""
    limiter = client.limiter
    if limiter is None:
        return None
    reserved = max(1, round(settings.sentry_rate_limit_per_min * settings.sentry_budget_reserve))
    return max(0, await limiter.remaining() - reserved)


async def load_root_cause(redis: Redis, issue_id: str) -> dict[str, object] | None:
    raw = await redis.get(keys.issue_root_cause(issue_id))
    value = json.loads(raw) if raw else None
    return value if isinstance(value, dict) else None


async def analyze(
    delivery: Delivery, client: SentryClient | None, redis: Redis, settings: Settings,
    registry: HandlerRegistry, rules: Rules, resource: str, action: str, now: datetime,
    flights: SingleFlight | None = None,
) -> Analysis:
    assert delivery.issue_id is not None
    cache = FetchCache(redis, settings.cache_ttl_s)
    calls: list[str] = []
    issue, event = await fetch_issue_and_event(delivery, client, cache, calls)
    facts = Facts(root_cause=await load_root_cause(redis, delivery.issue_id))
    ctx = AnalysisContext(resource=resource, action=action, issue=issue, event=event, now=now,
                          options=rules.options(), facts=facts, actor=actor_of(delivery))
    findings = run_handlers(registry, ctx)
    plan = build_plan(ctx, findings, rules)
    if client is not None:
        allowance = settings.analysis_max_calls - len(calls) - writes_needed(plan, issue)
        # A fifth of the job's time at most (5 s): the comment must never wait long for an extra.
        deadline_s = min(5.0, settings.job_timeout_s / 5)
        limits = EnrichLimits(settings.release_cache_ttl_s, settings.tags_cache_ttl_s, settings.cache_ttl_s, deadline_s)
        room = await budget_room(client, settings)
        low = room == 0
        allowance = allowance if room is None else min(allowance, room)
        facts = await gather_facts(client, cache, ctx, allowance, low, limits, flights)
        facts.calls += len(calls)
        ctx = replace(ctx, facts=facts)
        findings = run_handlers(registry, ctx)
        plan = build_plan(ctx, findings, rules)
    return Analysis(ctx, findings, plan)
