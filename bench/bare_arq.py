"""The worker bench's ceiling: an arq worker whose job only makes N httpx calls to the stand-in.

Same arq, same Redis, same HTTP transport and concurrency as the responder's worker; no status
records, no analysis, no write-back logic. `python -m bench.bare_arq` (env from bench/worker.py).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from arq import Worker
from arq.connections import RedisSettings

from shared.sentry.client import default_transport

CALLS = int(os.environ.get("BENCH_CALLS", "3"))
ISSUE_PATH = "/api/0/organizations/demo-org/issues/1170820242/"


async def startup(ctx: dict[str, Any]) -> None:
    ctx["http"] = httpx.AsyncClient(
        base_url=os.environ["BENCH_STANDIN"], transport=default_transport(),
        headers={"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"},
    )
    await ctx["redis"].set("bench:ceiling:ready", 1)


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["http"].aclose()


async def bare_job(ctx: dict[str, Any], n: int) -> None:
    for _ in range(CALLS):
        (await ctx["http"].get(ISSUE_PATH)).raise_for_status()
    await ctx["redis"].incr("bench:ceiling:done")


def main() -> None:
    Worker(
        functions=[bare_job], redis_settings=RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"]),
        max_jobs=int(os.environ.get("BENCH_CONCURRENCY", "20")), keep_result=0, poll_delay=0.05,
        on_startup=startup, on_shutdown=shutdown,
    ).run()


if __name__ == "__main__":
    main()
