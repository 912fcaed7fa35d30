"""The arq job: one delivery through fetch, analyze, plan and write back, its status recorded.

The flow reads top to bottom in `run_delivery` (load, run, finish); the retry policy is in worker/retry.py,
the write-back's idempotency in worker/writeback.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import structlog
from arq import Retry
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from shared import keys
from shared.api_actions import API_ACTION, ActionRequest
from shared.jobs import Delivery, JobState
from shared.jobstore import RawJSON
from shared.queue import ACTIVE_TTL_S, coalesce_kind, release_issue
from shared.selfreport import is_own_project, name_job_transaction, report_failed_job
from shared.sentry.client import JOB_DEADLINE
from shared.sentry.installs import NotInstalled
from shared.sentry.ratelimit import BudgetWait
from shared.sentry.redact import redact_json
from shared.webhooks import InstallationWebhook, MetricAlertWebhook, SeerWebhook, parse_webhook
from worker.actions import Plan
from worker.analysis.base import Finding
from worker.analyze import analyze
from worker.api_actions import ServiceWriteBack, request_finding, requested_plan
from worker.deps import WorkerDeps
from worker.fetch import now
from worker.outcomes import ActionOutcome
from worker.priority import Priority, budget_wait_s, priority_of
from worker.redis_health import redis_down
from worker.retry import IssueBusy, backoff_s, describe, is_transient
from worker.seer import root_cause_arrived
from worker.trail import count_playbooks, issue_web_url, record_trail, trail_entries
from worker.writeback import WriteBack

log = structlog.get_logger("worker.job")

ISSUE_LOCK_WAIT_S = 2.0  # longer: the job goes back on the queue (no try spent) and looks again
ISSUE_BUSY_RECHECK_S = 5.0


@dataclass
class Outcome:
    state: JobState
    findings: list[Finding] = field(default_factory=list)
    plan: Plan = field(default_factory=Plan)
    writeback: list[ActionOutcome] = field(default_factory=list)
    reason: str | None = None
    web_url: str | None = None  # the issue's page in Sentry

    def fields(self) -> dict[str, Any]:
        # Findings quote event data (stack context, messages): masked like a comment is.
        return {
            "findings": RawJSON(redact_json([f.model_dump(mode="json") for f in self.findings])),
            "plan": [a.model_dump(mode="json") for a in self.plan.actions],
            "writeback": [w.model_dump(mode="json") for w in self.writeback],
            "reason": self.reason,
            "shadow": [p.model_dump(mode="json", exclude={"actions"}) for p in self.plan.shadow],
            "web_url": self.web_url,
        }


async def process_delivery(ctx: dict[str, Any], delivery_id: str) -> str:
    """The arq job. A try that loses Redis midway ends there and runs again once Redis is back
    (the worker logs the outage once); its write-back is idempotent, so nothing is doubled."""
    deps: WorkerDeps = ctx["deps"]
    try:
        return await run_delivery(ctx, delivery_id)
    except Exception as exc:
        if not redis_down(exc):
            raise
        raise Retry(defer=deps.redis_health.lost(exc)) from None


async def run_delivery(ctx: dict[str, Any], delivery_id: str) -> str:
    """One try, read as load, run, finish; a failed run is turned into its next step by `after_failure`."""
    deps: WorkerDeps = ctx["deps"]
    attempt: int = ctx.get("job_try") or 1
    loaded = await load_delivery(deps, delivery_id, attempt)
    if loaded is None:
        return "missing"
    delivery = loaded.delivery
    if attempt > deps.settings.max_tries:  # crashed or timed out on every try
        return await _dead(deps, delivery, attempt, loaded.error or "retries exhausted")
    await keep_issue_active(deps, delivery)
    await wait_for_budget(deps, delivery)
    started = await mark_running(deps, delivery, attempt)
    try:
        outcome = await run_try(deps, delivery, attempt)
    except Exception as exc:
        deps.metrics.job_seconds.labels(delivery.resource, "error").observe(time.time() - started)
        return await after_failure(deps, delivery, attempt, exc)
    return await finish_delivery(deps, loaded, outcome, started)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A delivery as its record holds it: the payload as received, and the last try's error."""

    delivery: Delivery
    payload: dict[str, Any]
    error: str | None


async def load_delivery(deps: WorkerDeps, delivery_id: str, attempt: int) -> Loaded | None:
    """The delivery from its record (None if the record is gone), with the log context bound to it."""
    record = await deps.store.get(delivery_id)
    if record is None or record.payload is None:
        log.warning("job_record_missing", delivery_id=delivery_id)
        return None
    delivery = Delivery.model_validate(record.payload)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        delivery_id=delivery.id, issue_id=delivery.issue_id,
        resource=delivery.resource, action=delivery.action, attempt=attempt,
    )
    name_job_transaction(delivery)  # self-reporting (RESPONDER_SENTRY_DSN); nothing without it
    return Loaded(delivery, record.payload, record.error)


async def wait_for_budget(deps: WorkerDeps, delivery: Delivery) -> None:
    """Low on Sentry budget and this can wait: back on the queue (raises Retry), no try spent."""
    wait_s = await budget_wait(deps, delivery)
    if wait_s is not None:
        await _defer_for_budget(deps, delivery, wait_s)


async def mark_running(deps: WorkerDeps, delivery: Delivery, attempt: int) -> float:
    """Record the try as running; returns when it started."""
    started = time.time()
    await deps.store.transition(delivery.id, JobState.RUNNING, started_at=started, attempts=attempt)
    log.info("job_started")
    return started


async def run_try(deps: WorkerDeps, delivery: Delivery, attempt: int) -> Outcome:
    # Our own deadline, inside arq's: a try that overruns is retried like any transient
    # failure (arq would finish it as failed, leaving the record running and nothing retried).
    deadline = JOB_DEADLINE.set(time.monotonic() + deps.settings.job_timeout_s)  # in-call waits stay clear of it
    try:
        async with asyncio.timeout(deps.settings.job_timeout_s):
            return await handle(deps, delivery, retried=attempt > 1)
    finally:
        JOB_DEADLINE.reset(deadline)


async def after_failure(deps: WorkerDeps, delivery: Delivery, attempt: int, exc: Exception) -> str:
    """What a failed try means: a permanent error fails the job, a transient one is retried with
    backoff (raises Retry) until the tries run out, then the job is dead (replayable). Waiting
    (for the shared budget, or another job of the issue) is not failing: back on the queue."""
    settings = deps.settings
    if isinstance(exc, BudgetWait):  # a call would have waited long for the shared budget
        await _defer_for_budget(deps, delivery, exc.wait_s)
    if isinstance(exc, IssueBusy):
        await _defer(deps, delivery, exc.wait_s, "waiting for another job of this issue")
    if not is_transient(exc):
        await _finish(deps, delivery, JobState.FAILED, error=describe(exc))
        await leave_trail(deps, delivery, Outcome(JobState.FAILED, reason=describe(exc)))
        log.warning("job_failed", error=describe(exc))
        report_failed_job(exc, delivery, "failed")  # to Sentry, with RESPONDER_SENTRY_DSN
        return "failed"
    if attempt >= settings.max_tries:
        report_failed_job(exc, delivery, "dead")
        return await _dead(deps, delivery, attempt, describe(exc))
    delay_s = backoff_s(attempt, settings.retry_base_s, settings.retry_max_s, exc)
    await deps.store.transition(delivery.id, JobState.RETRYING, error=describe(exc))
    log.info("job_retrying", error=describe(exc), defer_s=round(delay_s, 2))
    raise Retry(defer=delay_s) from exc


async def finish_delivery(deps: WorkerDeps, loaded: Loaded, outcome: Outcome, started: float) -> str:
    delivery = loaded.delivery
    deps.metrics.job_seconds.labels(delivery.resource, outcome.state.value).observe(time.time() - started)
    # Done with the payload: keep it for the dashboard with secrets masked (a dead or failed job
    # keeps it whole, for a faithful replay; the API masks it when shown).
    await _finish(
        deps, delivery, outcome.state, dry_run=deps.dry_run, payload=RawJSON(redact_json(loaded.payload)),
        **outcome.fields(),
    )
    await leave_trail(deps, delivery, outcome)
    log.info("job_finished", state=outcome.state.value, duration_s=round(time.time() - started, 3))
    return outcome.state.value


async def _defer_for_budget(deps: WorkerDeps, delivery: Delivery, wait_s: float) -> NoReturn:
    deps.metrics.budget_deferrals.inc()
    await _defer(deps, delivery, wait_s, "waiting for Sentry budget")


async def _defer(deps: WorkerDeps, delivery: Delivery, wait_s: float, reason: str) -> NoReturn:
    """Back on the queue for `wait_s`, no try spent: waiting is not failing, and a job never
    sleeps long inside itself (it would hold a worker slot and stretch the job timeout)."""
    await deps.queue.forgive_try(delivery.id)
    await deps.store.transition(delivery.id, JobState.QUEUED, reason=reason)
    log.info("job_deferred", reason=reason, defer_s=round(wait_s, 1))
    raise Retry(defer=wait_s)


async def _finish(deps: WorkerDeps, delivery: Delivery, state: JobState, **fields: Any) -> None:
    await deps.store.transition(delivery.id, state, finished_at=time.time(), **fields)
    await release_issue(deps.redis, delivery, deps.settings.quiet_window_s)


async def leave_trail(deps: WorkerDeps, delivery: Delivery, outcome: Outcome) -> None:
    """The issue's audit trail and the playbook counters; the job is done already, so a Redis
    failure here is logged, not retried (a retry would not redo the write-back anyway)."""
    if delivery.issue_id is None:
        return
    try:
        coalesced = int(await deps.redis.hget(keys.job(delivery.id), "coalesced") or 0)  # type: ignore[misc]
        entries = trail_entries(
            delivery, outcome.state, outcome.findings, outcome.plan, outcome.writeback, coalesced=coalesced,
            dry_run=deps.dry_run and bool(outcome.plan.actions), reason=outcome.reason, web_url=outcome.web_url,
        )
        await record_trail(deps.redis, delivery.issue_id, entries)
        await count_playbooks(deps.redis, outcome.plan, executed=bool(outcome.writeback))
    except (RedisError, OSError) as exc:
        log.warning("audit_trail_failed", error=type(exc).__name__)


async def keep_issue_active(deps: WorkerDeps, delivery: Delivery) -> None:
    """While this job runs (or waits to retry) it is the one later deliveries fold into."""
    kind = coalesce_kind(delivery)
    if kind is not None and delivery.issue_id is not None:
        await deps.redis.set(keys.issue_active(delivery.issue_id, kind), delivery.id, ex=ACTIVE_TTL_S)


async def budget_wait(deps: WorkerDeps, delivery: Delivery) -> float | None:
    """Seconds deferrable work should wait for the shared Sentry budget, None to go now."""
    if deps.dry_run or delivery.issue_id is None:
        return None
    try:
        client = await deps.clients.for_delivery(delivery)
    except NotInstalled:
        return None  # the job itself records why
    limiter = client.limiter if client is not None else None
    if limiter is None:
        return None
    if priority_of(delivery, deliveries_for_issue=2) is not Priority.DEFERRABLE:
        return None  # cheap check first: only repeated error deliveries ever wait
    limit, reserve = deps.settings.sentry_rate_limit_per_min, deps.settings.sentry_budget_reserve
    remaining = await limiter.remaining()
    if budget_wait_s(Priority.DEFERRABLE, remaining, limit, reserve) is None:
        return None
    seen = int(await deps.redis.get(keys.issue_deliveries(delivery.issue_id)) or 0)
    return budget_wait_s(priority_of(delivery, seen), remaining, limit, reserve)


async def _dead(deps: WorkerDeps, delivery: Delivery, attempt: int, error: str) -> str:
    await _finish(deps, delivery, JobState.DEAD, error=error, attempts=attempt)
    await deps.store.add_dead(delivery.id)
    await leave_trail(deps, delivery, Outcome(JobState.DEAD, reason=error))
    log.error("job_dead", error=error)
    return "dead"


async def handle(deps: WorkerDeps, delivery: Delivery, retried: bool) -> Outcome:
    if delivery.resource == API_ACTION:
        return await service_action(deps, delivery, retried)
    envelope = parse_webhook(delivery.resource, delivery.body)
    if isinstance(envelope, InstallationWebhook):
        return await installation_changed(deps, envelope)
    store = deps.clients.store
    if store is not None and delivery.installation_uuid and await store.removed(delivery.installation_uuid):
        return Outcome(JobState.SKIPPED, reason="the integration was uninstalled from this organization")
    if isinstance(envelope, MetricAlertWebhook):
        # A metric alert names no issue: record what fired, there is nothing to write back to.
        return Outcome(JobState.SUCCEEDED, [metric_alert_finding(envelope)], reason="metric alert")
    if delivery.issue_id is None:
        return Outcome(JobState.SKIPPED, reason=f"{delivery.resource} delivery names no issue")
    if delivery.resource == "issue" and await deps.redis.exists(keys.own_write(delivery.issue_id)):
        return Outcome(JobState.SKIPPED, reason="echo of the responder's own write-back")
    if is_own_project(deps.settings, delivery):
        return Outcome(JobState.SKIPPED, reason="the responder's own project (RESPONDER_SENTRY_DSN): no loop")
    client = await deps.clients.for_delivery(delivery)
    rules = deps.rules_for(client.organization if client is not None else None)
    if isinstance(envelope, SeerWebhook):
        if envelope.action != "root_cause_completed" or not envelope.data.root_cause:
            return Outcome(JobState.SKIPPED, reason=f"seer.{envelope.action} carries no root cause")
        async with issue_lock(deps, delivery.issue_id, delivery.id):
            finding, results = await root_cause_arrived(deps.redis, envelope, client, deps.dry_run)
        return Outcome(JobState.SUCCEEDED, [finding], writeback=results, reason="Seer root cause")
    async with issue_lock(deps, delivery.issue_id, delivery.id):
        analysis = await analyze(delivery, client, deps.redis, deps.settings, deps.registry, rules,
                                 envelope.resource, envelope.action, now(), deps.flights)
        issue, findings, plan = analysis.context.issue, analysis.findings, analysis.plan
        organization = client.organization if client is not None else deps.settings.organization
        web_url = issue_web_url(deps.settings.base_url, organization, issue.id, issue.permalink)
        if deps.dry_run or client is None:
            return Outcome(JobState.SUCCEEDED, findings, plan, reason="dry run: plan recorded only", web_url=web_url)
        writer = WriteBack(client, deps.redis, deps.settings.dedup_ttl_s, installation=delivery.installation_uuid)
        results = await writer.execute(plan, issue, delivery.id, retried)
        return Outcome(JobState.SUCCEEDED, findings, plan, results, web_url=web_url)


async def service_action(deps: WorkerDeps, delivery: Delivery, retried: bool) -> Outcome:
    """Actions a service asked for through the read/act API (worker/api_actions.py)."""
    assert delivery.issue_id is not None
    request = ActionRequest.model_validate(delivery.body.get("actions") or {})
    requested_by = str(delivery.body.get("requested_by") or "?")
    plan = requested_plan(request, requested_by)
    findings = [request_finding(request, requested_by)]
    client = await deps.clients.for_delivery(delivery)
    if deps.dry_run or client is None:
        return Outcome(JobState.SUCCEEDED, findings, plan, reason="dry run: plan recorded only")
    async with issue_lock(deps, delivery.issue_id, delivery.id):
        issue = await client.get_issue(delivery.issue_id)
        writer = ServiceWriteBack(
            client, deps.redis, deps.settings.dedup_ttl_s, installation=delivery.installation_uuid
        )  # the same undo records and audit trail as a playbook's write-back
        results = await writer.execute(plan, issue, delivery.id, retried)
    web_url = issue_web_url(deps.settings.base_url, client.organization, issue.id, issue.permalink)
    return Outcome(JobState.SUCCEEDED, findings, plan, results, reason=f"asked by {requested_by}", web_url=web_url)


async def installation_changed(deps: WorkerDeps, envelope: InstallationWebhook) -> Outcome:
    """A public integration was installed (trade the grant code for tokens) or uninstalled
    (forget its tokens; its queued jobs are then skipped)."""
    tokens = deps.clients.tokens
    installation = envelope.data.installation
    if tokens is None:
        return Outcome(JobState.SKIPPED, reason="installations are managed only as a public integration")
    organization = str(installation.organization.get("slug") or "")
    if envelope.action == "created":
        if not installation.code or not organization:
            return Outcome(JobState.FAILED, reason="installation.created without a grant code or organization")
        await tokens.install(installation.uuid, installation.code, organization)
        summary = f"installed for organization {organization}; tokens stored encrypted"
    else:
        organization = await tokens.store.remove(installation.uuid, deps.settings.dedup_ttl_s) or organization
        await deps.clients.forget(installation.uuid)
        summary = f"uninstalled from organization {organization}; tokens deleted, its queued jobs skipped"
    finding = Finding(handler="installation", summary=summary,
                      data={"action": envelope.action, "organization": organization, "uuid": installation.uuid})
    return Outcome(JobState.SUCCEEDED, [finding], reason=summary)


@asynccontextmanager
async def issue_lock(deps: WorkerDeps, issue_id: str, holder: str) -> AsyncIterator[None]:
    """Jobs for one issue never overlap, so two deliveries cannot race into two comments. The
    lock holds the delivery id, so a try can take over the lock of an earlier, dead try of its own."""
    lock = deps.redis.lock(
        keys.issue_lock(issue_id), timeout=deps.settings.issue_lock_s,
        blocking_timeout=ISSUE_LOCK_WAIT_S,
    )
    if not await _take_over(lock, holder) and not await lock.acquire(token=holder):
        held_ms = await deps.redis.pttl(keys.issue_lock(issue_id))
        wait_s = min(max(held_ms / 1000, 1.0), ISSUE_BUSY_RECHECK_S)  # it may be released sooner
        raise IssueBusy(f"issue {issue_id} is locked by another job", wait_s)
    try:
        yield
    finally:
        try:
            await lock.release()
        except LockError:
            log.warning("issue_lock_expired", issue_id=issue_id)


async def _take_over(lock: Lock, holder: str) -> bool:
    """The lock still held by an earlier try of this same delivery: that try is gone (arq runs a
    job again only after its lease on the earlier try ran out, which outlasts arq's own timeout
    of the try), so this one carries on with a fresh lock. Without this, a busy machine's try took
    the lock seconds after arq's lease began, the lock then outlived the lease, and the re-run of
    a SIGKILLed worker's job waited for it, deferred, eating into the 60 s it has at the defaults."""
    lock.local.token = holder.encode()
    try:
        return bool(await lock.reacquire())
    except LockError:
        lock.local.token = None
        return False


def metric_alert_finding(envelope: MetricAlertWebhook) -> Finding:
    data = envelope.data
    rule = data.metric_alert.get("alert_rule") or {}
    return Finding(
        handler="metric_alert",
        summary=data.description_title or f"Metric alert {envelope.action}",
        data={
            "action": envelope.action, "rule": rule.get("name"), "query": rule.get("query"),
            "aggregate": rule.get("aggregate"), "description": data.description_text,
            "web_url": data.web_url,
        },
    )
