"""Reading a request body within a size limit and a shared memory budget (slow-client defence).

The deadline on the whole read is the caller's (`asyncio.timeout` in gateway/webhook.py); the
connection limit is uvicorn's `limit_concurrency` (cli/main.py). Together they bound what stalled
uploads can hold: at most `RESPONDER_MAX_CONNECTIONS` of them, each for at most
`RESPONDER_BODY_TIMEOUT_S`, holding at most `RESPONDER_BODY_BUFFER_BYTES` beyond 64 KiB each.
"""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    pass


class BodyBudgetSpent(Exception):
    """Too many bytes of unverified bodies are held at once (many large uploads in flight)."""


class BodyBudget:
    """Bytes of request bodies held at once, beyond the first `free_bytes` of each request.

    Stalled or slow uploads hold memory until the body deadline; this caps what they can hold
    together. A delivery from Sentry (a few KB) fits in its free allowance, so it is never
    refused because others hog the budget. Single event loop: no lock needed."""

    def __init__(self, total_bytes: int, free_bytes: int = 64 * 1024) -> None:
        self.total_bytes = total_bytes
        self.free_bytes = free_bytes
        self.in_use = 0

    def take(self, n: int) -> None:
        if self.in_use + n > self.total_bytes:
            raise BodyBudgetSpent
        self.in_use += n

    def give(self, n: int) -> None:
        self.in_use -= n


async def read_body(
    request: Request, headers: dict[str, str], limit_bytes: int, budget: BodyBudget | None = None
) -> bytes:
    """Read the raw body, stopping as soon as it passes the limit (no need to read the rest)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    charged = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit_bytes:
                raise BodyTooLarge
            if budget is not None and size > budget.free_bytes:
                owed = size - budget.free_bytes - charged
                budget.take(owed)
                charged += owed
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        if budget is not None:
            budget.give(charged)
