"""One fetch for many waiters: concurrent jobs of one worker that want the same optional fact
(a release, the recent issues of the organization) share a single Sentry call.

The Redis cache makes later jobs free; this covers the jobs that start together (a storm's first
analyses), which would otherwise all miss the cache at once. A flight is registered the moment it
is decided on (synchronously), so a job deciding a moment later joins it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class SingleFlight:
    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[Any]] = {}

    def joins(self, key: str) -> bool:
        """Whether a call for `key` is under way: the caller then waits for it instead of calling."""
        return key in self._flights

    def _landed(self, key: str, flight: asyncio.Task[Any]) -> None:
        self._flights.pop(key, None)
        if not flight.cancelled():
            flight.exception()  # retrieved: a flight nobody waits for any more raises no warning

    def start(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        """The call for `key`: the one under way, or a new one started now."""
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(fetch())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return asyncio.shield(flight)
