"""The read API's place in the shared Sentry budget: behind webhook work, and capped.

Every API call takes a slot in the same Redis budget the workers use (so together they never exceed
Sentry's limit), but only while more than the reserve is left (the reserve belongs to alerts and
new issues), and only within its own cap (`RESPONDER_API_BUDGET_SHARE` of the per-minute limit).
An API caller is never made to wait inside a request: when a slot is not free now it gets a 429
with `Retry-After`. Each limiter is asked with that blink as its longest wait, so a refused call
reserves nothing there; the API's own cap is asked first, so a call refused by it takes nothing
from the shared budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.sentry_api.errors import BudgetSpent
from shared.sentry.ratelimit import BudgetWait, RateLimiter

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
        """`max_wait_s` is the client's patience; an API caller's is always a blink (`SMALL_WAIT_S`)."""
        remaining = await self.shared.remaining()
        if remaining <= self.reserve:
            raise BudgetSpent(self._retry_after_s(self.reserve - remaining + 1))
        try:
            own_wait_s = await self.own.acquire(max_wait_s=SMALL_WAIT_S)  # the API's cap first
            return max(own_wait_s, await self.shared.acquire(max_wait_s=SMALL_WAIT_S))
        except BudgetWait as exc:
            raise BudgetSpent(exc.wait_s) from None

    async def remaining(self) -> int:
        return await self.shared.remaining()

    async def block_until(self, reset_epoch_s: float) -> None:
        await self.shared.block_until(reset_epoch_s)
