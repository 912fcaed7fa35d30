"""bench/findings: Sentry calls per analysis for each demo story (issue 21's budget: 8 in all).

Each story's delivery goes through the real fetch, enrichment, analysis and write-back against the
stand-in in-process, with a real Redis; the stand-in counts every call. Run:
`python -m bench.findings` (add `--warm` to run each story twice and show what the cache saves).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
from redis.asyncio import Redis

from bench import harness
from shared.embedded_redis import EmbeddedRedis
from shared.jobs import Delivery
from shared.sentry.client import SentryClient
from shared.settings import Settings, load_settings
from standin import scenarios
from standin.app import DEMO_TOKEN, create_standin
from worker.analysis.registry import default_registry
from worker.analyze import Analysis, analyze
from worker.rules import Rules
from worker.writeback import WriteBack


class StoryRunner:
    """The stand-in loaded with the stories at `now`, and one delivery at a time through the worker."""

    def __init__(self, redis: Redis, settings: Settings, now: datetime) -> None:
        self.app = create_standin()
        self.state = self.app.state.standin
        data = scenarios.build(now)
        self.state.issues.update({i["id"]: i for i in data["issues"]})
        self.state.events.update(data["events"])
        self.state.extra = {k: v for k, v in data.items() if k not in ("issues", "events")}
        self.state.clock_offset_s = now.timestamp() - time.time()  # the stand-in lives at the stories' time
        self.transport = httpx.ASGITransport(app=self.app)
        self.redis, self.settings, self.now = redis, settings, now

    async def run(self, issue_id: str, delivery_id: str | None = None) -> tuple[Analysis, str, list[str]]:
        """The analysis, the comment as Sentry holds it, and the calls this delivery made."""
        action, actor = scenarios.DELIVERIES[issue_id]
        before = len(self.state.calls)
        delivery = Delivery(
            id=delivery_id or f"golden-{issue_id}", resource="issue", action=action,
            received_at=self.now.timestamp(), issue_id=issue_id,
            body={"action": action, "actor": actor, "data": {"issue": self.state.issues[issue_id]}},
        )
        async with SentryClient("http://standin/api/0/", DEMO_TOKEN, "demo-org", transport=self.transport) as client:
            analysis = await analyze(delivery, client, self.redis, self.settings, default_registry(False),
                                     Rules.default(), "issue", action, self.now)
            await WriteBack(client, self.redis, 3600).execute(analysis.plan, analysis.ctx.issue, delivery.id, False)
        calls = [f"{c['method']} {c['endpoint']}" for c in self.state.calls[before:]]
        return analysis, self.state.notes[issue_id][0]["data"]["text"], calls


async def measure(redis_url: str, warm: bool) -> list[dict[str, Any]]:
    redis = Redis.from_url(redis_url)
    settings = load_settings(REDIS_URL=redis_url, SENTRY_CLIENT_SECRET="bench")
    runner = StoryRunner(redis, settings, datetime.now(UTC))
    rows = []
    for round_ in ("cold", "warm") if warm else ("cold",):
        for issue_id in scenarios.DELIVERIES:
            analysis, _, calls = await runner.run(issue_id, f"bench-{round_}-{issue_id}")
            rows.append({"story": issue_id, "round": round_, "calls": len(calls),
                         "by_endpoint": dict(Counter(calls)), "skipped": analysis.ctx.facts.skipped})
    await redis.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--warm", action="store_true", help="run every story twice (the second from cache)")
    parser.add_argument("--smoke", action="store_true", help="accepted for symmetry with the other benches")
    args = parser.parse_args()
    with EmbeddedRedis() as server:
        rows = asyncio.run(measure(server.url, args.warm))
    table: list[tuple[str, ...]] = [("story", "round", "calls", "by endpoint")]
    table += [(r["story"], r["round"], str(r["calls"]), str(r["by_endpoint"])) for r in rows]
    print(harness.table(table))
    mean = sum(r["calls"] for r in rows) / len(rows)
    print(f"calls per analysis: mean {mean:.1f}, max {max(r['calls'] for r in rows)} (budget 8)")
    print(f"results appended to {harness.record('findings', {'rows': rows, 'mean_calls': mean}, args.smoke)}")


if __name__ == "__main__":
    main()
