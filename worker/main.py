"""The worker process: arq settings, start-up (clients, rules, handlers), heartbeat and retention.

The process rides out Redis outages (worker/arq_worker.py, worker/redis_health.py): it exits only
on a signal or a configuration error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from typing import Any

import httpx
import structlog
from arq.worker import func
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError

from shared import keys
from shared.installations import InstallationStore, TokenCipher
from shared.jobstore import JobStore
from shared.logging import configure_logging
from shared.queue import JOB_EXPIRES_MS, PROCESS_DELIVERY, DeliveryQueue, arq_settings, deserialize, serialize
from shared.selfreport import init_self_reporting
from shared.sentry.client import SentryClient
from shared.sentry.installs import InstallationAuth, InstallationTokens
from shared.sentry.ratelimit import RedisRateLimiter
from shared.settings import Settings, SettingsError
from worker.analysis.registry import default_registry
from worker.arq_worker import ResilientWorker
from worker.deps import WorkerDeps
from worker.job import process_delivery
from worker.metrics import WorkerMetrics
from worker.redis_health import RedisHealth, redis_down
from worker.rules import load_rule_sets
from worker.sentry_clients import SentryClients

log = structlog.get_logger("worker.main")

HEARTBEAT_S = 5.0
TRIM_EVERY_S = 60.0
JOB_TIMEOUT_MARGIN_S = 5.0
SHUTDOWN_REDIS_S = 2.0  # how long a stopping worker tries to tidy its keys in Redis


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    redis = ctx["redis"]
    metrics = WorkerMetrics()
    health: RedisHealth = ctx.get("redis_health") or RedisHealth()
    rule_sets = load_rule_sets(settings)
    ctx["deps"] = WorkerDeps(
        settings=settings, redis=redis, store=JobStore(redis),
        queue=DeliveryQueue(redis, settings.queue_name, settings.dedup_ttl_s),
        clients=sentry_clients(settings, redis, metrics, ctx.get("sentry_transport")),
        registry=default_registry(),
        rules=rule_sets.default,
        rules_by_org=rule_sets.by_org,
        metrics=metrics,
        redis_health=health,
    )
    metrics.serve(settings.worker_metrics_port, readiness=health.readiness)
    ctx["heartbeat"] = asyncio.create_task(heartbeat(ctx["deps"], worker_name()))
    log.info("worker_started", dry_run=ctx["deps"].dry_run, mode=settings.mode)


def sentry_clients(
    settings: Settings, redis: Redis, metrics: WorkerMetrics, transport: httpx.AsyncBaseTransport | None
) -> SentryClients:
    """The internal integration's client, or the means to make one per installation."""
    if settings.mode == "internal":
        client = SentryClient.from_settings(
            settings, redis, transport=transport, on_call=metrics.on_call,
            retry_budget_s=settings.call_budget_s,
        )
        metrics.watch(client)
        return SentryClients(default=client)
    if settings.mode != "public":
        return SentryClients()
    assert settings.client_id is not None
    store = InstallationStore(redis, TokenCipher(settings.token_keys))
    tokens = InstallationTokens(
        store, redis, settings.base_url, settings.client_id, settings.client_secrets[0].get_secret_value(),
        transport=transport,
    )

    def make(uuid: str, organization: str) -> SentryClient:
        client = SentryClient(
            settings.base_url, None, organization, auth=InstallationAuth(tokens, uuid), transport=transport,
            limiter=RedisRateLimiter(redis, f"org:{organization}", settings.sentry_rate_limit_per_min),
            timeout_s=settings.sentry_timeout_s, max_in_flight=settings.sentry_max_in_flight,
            on_call=metrics.on_call, retry_budget_s=settings.call_budget_s,
        )
        metrics.watch(client)
        return client

    return SentryClients(tokens=tokens, make=make)


async def shutdown(ctx: dict[str, Any]) -> None:
    deps: WorkerDeps | None = ctx.get("deps")
    task: asyncio.Task[None] | None = ctx.get("heartbeat")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if deps is not None:
        # Redis may be away (the pool would retry for seconds): the dashboard then ages the entry out.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(SHUTDOWN_REDIS_S):
                await deps.redis.hdel(keys.WORKER_HEARTBEATS, worker_name())  # type: ignore[misc]
                await deps.redis.hdel(keys.WORKER_REDIS_OUTAGES, worker_name())  # type: ignore[misc]
        await deps.clients.aclose()


async def heartbeat(deps: WorkerDeps, name: str) -> None:
    """Tell the dashboard this worker is alive (and about an outage it rode out), and keep the
    status store within its retention."""
    last_trim = 0.0
    health = deps.redis_health
    while True:
        try:
            await deps.redis.hset(keys.WORKER_HEARTBEATS, name, repr(time.time()))  # type: ignore[misc]
            health.beat()
            if health.outages:
                lost_at, back_at = health.outages[-1]
                await deps.redis.hset(  # type: ignore[misc]
                    keys.WORKER_REDIS_OUTAGES, name, json.dumps({"lost_at": lost_at, "back_at": back_at})
                )
                health.outages.clear()
            if time.monotonic() - last_trim > TRIM_EVERY_S:
                last_trim = time.monotonic()
                await deps.store.trim(
                    deps.settings.job_retention_count, deps.settings.job_retention_s
                )
        except Exception as exc:  # Redis blips must not kill the heartbeat
            if redis_down(exc):
                health.lost(exc)  # logs once per outage
            else:
                log.warning("heartbeat_failed", error=type(exc).__name__)
        await asyncio.sleep(HEARTBEAT_S)


def worker_options(settings: Settings) -> dict[str, Any]:
    """arq's settings for our one job, from our settings (nothing here reads the environment)."""
    return {
        "functions": [
            # One more try than ours, so our job itself records the death of a crash-looping job.
            func(process_delivery, name=PROCESS_DELIVERY, max_tries=settings.max_tries + 1)
        ],
        "queue_name": settings.queue_name,
        "redis_settings": arq_settings(settings.redis),  # what arq reports; the pool is arq_pool's
        "max_jobs": settings.max_jobs,
        "job_timeout": settings.job_timeout_s + JOB_TIMEOUT_MARGIN_S,  # a backstop: our own comes first
        "keep_result": 0,
        "poll_delay": settings.poll_delay_s,
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "job_completion_wait": settings.shutdown_grace_s,
        "expires_extra_ms": JOB_EXPIRES_MS,
    }


def build_worker(settings: Settings, **overrides: Any) -> ResilientWorker:
    """arq's worker, made to ride out Redis outages; its edges and the jobs share one `RedisHealth`.
    Its pool comes from the project's one connection factory (TLS, ACL users, Sentinel)."""
    options = worker_options(settings) | overrides
    health = RedisHealth()
    options["ctx"] = {**options["ctx"], "redis_health": health}
    return ResilientWorker(redis_health=health, redis_config=settings.redis, **options)


def run_worker(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT: then stop taking jobs, let running ones finish within the grace
    period, and leave the rest on the queue for another worker (arq re-queues cancelled jobs)."""
    configure_logging(settings.log_format, settings.log_level, settings.secret_values())
    init_self_reporting(settings, "worker")  # only with RESPONDER_SENTRY_DSN
    settings.require_sentry()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    try:
        build_worker(settings).run()
    except AuthenticationError as exc:  # Redis answers but refuses us: waiting would not help
        raise SettingsError(f"REDIS_URL: Redis refused the credentials ({exc})") from None
