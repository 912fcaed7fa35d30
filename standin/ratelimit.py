"""Sentry's rate limits, as its middleware answers them (src/sentry/middleware/ratelimit.py).

Every answer under /api/0/ carries `X-Sentry-Rate-Limit-Limit`, `-Remaining`, `-Reset` (UTC epoch
seconds when the window ends), `-ConcurrentLimit` and `-ConcurrentRemaining`, counted per caller
(token, or address without one) in fixed windows. Over either limit: a 429 with Sentry's message
and no `Retry-After` (Sentry sends none). Pure ASGI, so it also wraps faults and dropped calls.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from standin.state import StandinState

PREFIX = "x-sentry-rate-limit-"


@dataclass
class Budget:
    window_start: int = 0
    used: int = 0
    in_flight: int = 0


@dataclass
class RateLimitMiddleware:
    app: ASGIApp
    state: StandinState
    budgets: dict[str, Budget] = field(default_factory=lambda: defaultdict(Budget))

    def _caller(self, scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                return bytes(value).decode("latin-1")
        client = scope.get("client")
        return f"ip:{client[0]}" if client else "ip:?"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/0/"):
            await self.app(scope, receive, send)
            return
        rate, now = self.state.rate, time.time()
        budget = self.budgets[self._caller(scope)]
        window = int(now // rate.window_s) * rate.window_s
        if budget.window_start != window:
            budget.window_start, budget.used = window, 0
        budget.used += 1
        budget.in_flight += 1
        reset = math.ceil(window + rate.window_s)
        try:
            headers = {
                "limit": rate.limit, "remaining": max(rate.limit - budget.used, 0), "reset": reset,
                "concurrentlimit": rate.concurrent,
                "concurrentremaining": max(rate.concurrent - budget.in_flight, 0),
            }
            if budget.used > rate.limit or budget.in_flight > rate.concurrent:
                await self._refuse(send, headers, budget.used > rate.limit)
                self.state.calls.append({"method": scope["method"], "path": scope["path"], "endpoint": "rate_limited",
                                         "status": 429, "at": now})
                return
            await self.app(scope, receive, self._with_headers(send, headers))
        finally:
            budget.in_flight -= 1

    def _with_headers(self, send: Send, values: dict[str, int]) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [((PREFIX + k).encode(), str(v).encode()) for k, v in values.items()
                         if (PREFIX + k).encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return wrapped

    async def _refuse(self, send: Send, values: dict[str, int], per_window: bool) -> None:
        rate = self.state.rate
        message = (f"You are attempting to use this endpoint too frequently. Limit is {rate.limit} "
                   f"requests in {rate.window_s} seconds") if per_window else (
                   "You are attempting to go above the allowed concurrency for this endpoint. "
                   f"Concurrency limit is {rate.concurrent}")
        body = json.dumps({"detail": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   *(((PREFIX + k).encode(), str(v).encode()) for k, v in values.items())]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
