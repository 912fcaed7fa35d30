"""bench/lua: three ways to run a Lua script, timed against a real redis-server (why shared/lua.py
sends EVALSHA). A tiny script and one the size of the intake's; one call at a time and pipelines of
100; median of 7 interleaved runs, so a busy moment on a shared machine hits all three alike.

    .venv/bin/python -m bench.lua             # 2,000 calls per way
    .venv/bin/python -m bench.lua --smoke     # 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from bench import harness
from devtools.embedded_redis import EmbeddedRedis
from shared.queue import _INTAKE

TINY = "return redis.call('INCR', KEYS[1])"
PIPELINE = 100


async def _per_call_us(calls: int, run: Callable[[], Awaitable[None]], batch: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(calls // batch):
        await run()
    return (time.perf_counter() - started) / calls * 1e6


async def _ways(redis: Redis, label: str, source: str, calls: int) -> list[tuple[str, ...]]:
    sha = await redis.script_load(source)
    script = redis.register_script(source)
    one: dict[str, Callable[[], Awaitable[object]]] = {
        "EVAL": lambda: redis.eval(source, 1, "k"),  # type: ignore[return-value, dict-item]
        "EVALSHA": lambda: redis.evalsha(sha, 1, "k"),  # type: ignore[return-value, dict-item]
        "register_script": lambda: script(keys=["k"]),
    }

    async def piped(way: str) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(PIPELINE):
                if way == "EVAL":
                    pipe.eval(source, 1, "k")
                elif way == "EVALSHA":
                    pipe.evalsha(sha, 1, "k")
                else:
                    await script(keys=["k"], client=pipe)  # adds SCRIPT EXISTS to execute()
            await pipe.execute()

    single: dict[str, list[float]] = {way: [] for way in one}
    batched: dict[str, list[float]] = {way: [] for way in one}
    for _ in range(7):
        for way, call in one.items():
            single[way].append(await _per_call_us(calls, call))  # type: ignore[arg-type]
            batched[way].append(await _per_call_us(calls, lambda way=way: piped(way), PIPELINE))  # type: ignore[misc]
    return [(label, way, f"{statistics.median(single[way]):.0f}", f"{statistics.median(batched[way]):.0f}")
            for way in one]


async def measure(url: str, calls: int) -> list[tuple[str, ...]]:
    redis = Redis.from_url(url)
    # the intake's text, commented out: a script of its size that does what the tiny one does
    large = TINY + _INTAKE.source.replace("\n", "\n-- ")
    rows: list[tuple[str, ...]] = [("script", "way", "one call (us)", f"in a pipeline of {PIPELINE} (us)")]
    rows += await _ways(redis, "tiny", TINY, calls)
    rows += await _ways(redis, f"{len(large)} B", large, calls)
    await redis.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    smoke = parser.parse_args().smoke
    with EmbeddedRedis() as server:
        rows = asyncio.run(measure(server.url, 100 if smoke else 2000))
    print(harness.table(rows))
    figures = {f"{r[0]} {r[1]}": {"one_call_us": float(r[2]), "pipelined_us": float(r[3])} for r in rows[1:]}
    print(f"results appended to {harness.record('lua', figures, smoke)}")


if __name__ == "__main__":
    main()
