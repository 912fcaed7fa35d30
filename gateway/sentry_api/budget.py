"""The read API's place in the shared Sentry budget: behind webhook work, and capped.

Every API call takes a slot in the same Redis budget the workers use (so together they never exceed
Sentry's limit), but only while more than the reserve is left (the reserve belongs to alerts and
new issues), and only within its own cap (`RESPONDER_API_BUDGET_SHARE` of the per-minute limit).
An API caller is never made to wait inside a request: when a slot is not free now it gets a 429
with `Retry-After`. A slot refused that way stays reserved, which only errs on the side of webhooks;
the API's own cap is asked first, so a call refused by it takes nothing from the shared budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.sentry_api.errors import BudgetSpent
from shared.sentry.ratelimit import RateLimiter

SMALL_WAIT_S = 0.05  # slots this close are taken, not refused


@dataclass
class ApiBudget:
    shared: RateLimiter
    own: RateLimiter  # the API's cap, a limiter of its own with limit = share x budget
    limit: int
    reserve: int
    window_s: float = 60.0

    def _retry_after_s(self, missing: int) -> float:
        return max(1.0, math.ceil(self.window_s * missing / max(self.limit, 1)))

    async def acquire(self, max_wait_s: float | None = None) -> float:
        """The RateLimiter protocol's call (SentryClient passes the wait its caller accepts); the
        API never waits more than SMALL_WAIT_S whatever that is, so `max_wait_s` changes nothing."""
        remaining = await self.shared.remaining()
        if remaining <= self.reserve:
            raise BudgetSpent(self._retry_after_s(self.reserve - remaining + 1))
        own_wait_s = await self.own.acquire()  # the API's cap first: refused there, webhooks lose nothing
        if own_wait_s > SMALL_WAIT_S:
            raise BudgetSpent(own_wait_s)
        wait_s = max(own_wait_s, await self.shared.acquire())
        if wait_s > SMALL_WAIT_S:
            raise BudgetSpent(wait_s)
        return wait_s

    async def remaining(self) -> int:
        return await self.shared.remaining()

    async def block_until(self, reset_epoch_s: float) -> None:
        await self.shared.block_until(reset_epoch_s)
