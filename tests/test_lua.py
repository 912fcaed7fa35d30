"""shared/lua.py: one script object serves single calls and pipelines, and survives a Redis that
forgot it (restart, failover)."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from shared.lua import LuaScript

INCR = LuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")


async def test_sha_is_what_redis_computes(redis: Redis) -> None:
    assert INCR.sha == hashlib.sha1(INCR.source.encode()).hexdigest()
    await INCR.load(redis)
    assert await redis.script_exists(INCR.sha) == [True]


async def test_a_forgotten_script_is_loaded_and_the_call_made(redis: Redis) -> None:
    await redis.script_flush()
    assert await INCR(redis, ["n"], [2]) == 2
    await redis.script_flush()
    assert await INCR(redis, ["n"], [3]) == 5


async def test_calls_queue_into_a_pipeline(redis: Redis) -> None:
    await INCR.load(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for step in (1, 10, 100):
            INCR.queue(pipe, ["m"], [step])
        assert await pipe.execute() == [1, 11, 111]
