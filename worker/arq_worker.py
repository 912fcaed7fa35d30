"""arq's Worker, riding out Redis outages instead of dying of the first refused connection.

arq lets any Redis error escape its poll loop, which ends `Worker.run()` with a traceback; a
worker then stays dead until someone restarts it. Here each place arq talks to Redis waits and
tries again (with the backoff of worker/redis_health.py), so the process exits only on a signal
or a configuration error:

- start-up: connect until Redis answers (a wrong password is a configuration error and ends it);
- the poll loop: an iteration that loses Redis waits and polls again, releasing the job slot
  arq had taken for a job it could not start;
- a job's bookkeeping (arq's own keys when it ends): written once Redis is back, within the job's
  in-progress lease, so the job's outcome is neither lost nor run twice. A job whose start or end
  cannot reach Redis within the lease runs again after it, as after a crash (arq's recovery);
- shutdown: a Redis that is away does not turn a clean stop into a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Worker
from redis.exceptions import WatchError

from shared.queue import arq_pool
from shared.redis import RedisConfig
from worker.redis_health import RedisHealth, redis_down


def lost_redis(exc: BaseException) -> bool:
    """Redis went away under arq's poll: redis-py reports a connection cut in the middle of a
    WATCH (a Sentinel failover, say) as WatchError; arq handles a real one (a job taken
    elsewhere) itself, so one that escapes its poll is a lost connection."""
    return redis_down(exc) or isinstance(exc, WatchError)


class ResilientWorker(Worker):
    def __init__(
        self, *args: Any, redis_health: RedisHealth, redis_config: RedisConfig, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.redis_health = redis_health
        self.redis_config = redis_config

    async def main(self) -> None:
        while self._pool is None:
            # the pool from the project's connection factory (TLS, ACL users, Sentinel), not from
            # arq's RedisSettings: its Sentinel path passes no timeouts, retries or CA files
            pool = arq_pool(self.redis_config, self.queue_name)
            try:
                await pool.ping()
            except Exception as exc:
                await pool.aclose()
                if not redis_down(exc):
                    raise
                await asyncio.sleep(self.redis_health.lost(exc))
            else:
                self._pool = pool
        self.redis_health.ok()
        await super().main()

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except Exception as exc:
            if not lost_redis(exc):
                raise
            await asyncio.sleep(self.redis_health.lost(exc))
        else:
            self.redis_health.ok()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq takes a job slot before it asks Redis whether the job is free, and keeps it when
        # Redis fails in between: give it back, or every outage would shrink the worker.
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except Exception as exc:
                if lost_redis(exc):
                    self.job_counter -= 1
                    self.sem.release()
                raise

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        except Exception as exc:
            if not redis_down(exc):
                raise
            self.redis_health.lost(exc)  # its lease expires and it runs again, as after a crash

    async def finish_job(self, *args: Any, **kwargs: Any) -> None:
        await self._until_redis_is_back(lambda: super(ResilientWorker, self).finish_job(*args, **kwargs))

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await self._until_redis_is_back(
            lambda: super(ResilientWorker, self).finish_failed_job(job_id, result_data)
        )

    async def _until_redis_is_back(self, write: Callable[[], Awaitable[None]]) -> None:
        """Retry an idempotent write of arq's keys while the job's lease lasts."""
        deadline = time.monotonic() + self.in_progress_timeout_s
        while True:
            try:
                await write()
            except Exception as exc:
                if not redis_down(exc) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(self.redis_health.lost(exc))
            else:
                self.redis_health.ok()
                return

    async def close(self) -> None:
        """arq's close, except that a Redis that is away does not stop our shutdown hook running."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values())
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):  # a Redis that is away must not hold up the stop
                await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.close(close_connection_pool=True)
        self._pool = None
