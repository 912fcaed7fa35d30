"""The one way the project runs a Lua script on Redis: `LuaScript`, sent by EVALSHA.

Measured with `python -m bench.lua` (redis-py 5.3 asyncio, a local `redis-server`, 2,000 calls per
way, median of 7 interleaved runs on the shared two-core box; microseconds per call):

    script              way               one call   in a pipeline of 100
    tiny (40 B)         EVAL              118        12
                        EVALSHA            97        17
                        register_script   101        21
    2 kB (the intake)   EVAL              140        29
                        EVALSHA           140        17
                        register_script   168        24   (+ a SCRIPT EXISTS per pipeline)

For a tiny script the three are within the noise of a shared machine. EVAL sends and hashes the
script's text on every call, which shows once a script is the size of the intake's (pipelined: 29
against 17 us); EVALSHA sends 40 bytes. redis-py's `register_script` is EVALSHA too, plus its own
wrapping, and inside a pipeline it adds a SCRIPT EXISTS round trip to every `execute`: that is the
gateway's intake batches, the one hot path. So: the sha is computed here, once; a call is EVALSHA;
a Redis that does not know the script (a restart, a failover) gets it loaded on the NOSCRIPT reply
and the call made again. One object serves single calls and pipelines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

Arg = str | bytes | int | float


class LuaScript:
    """A Lua script, known by its sha, run by EVALSHA and loaded only when Redis says it lacks it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # what SCRIPT LOAD would answer

    async def __call__(self, redis: Redis, keys: Sequence[str] = (), args: Sequence[Arg] = ()) -> Any:
        try:
            return await self._evalsha(redis, keys, args)
        except NoScriptError:
            await self.load(redis)
            return await self._evalsha(redis, keys, args)

    def queue(self, pipe: Pipeline, keys: Sequence[str] = (), args: Sequence[Arg] = ()) -> None:
        """Add a call to a pipeline (no SCRIPT EXISTS first); a NOSCRIPT reply raises from
        `execute`: call `load` and run the pipeline again."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[arg-type]

    async def load(self, redis: Redis) -> None:
        await redis.script_load(self.source)

    async def _evalsha(self, redis: Redis, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[arg-type, misc]
