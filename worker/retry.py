"""Which failures are worth another try, and how long to wait: pure policy, no I/O."""

from __future__ import annotations

import random

from pydantic import ValidationError
from redis.exceptions import RedisError

from shared.sentry.errors import SentryError, SentryRateLimited
from shared.sentry.redact import redact


class IssueBusy(Exception):
    """Another job holds this issue's lock; come back in `wait_s` (when it is due to expire)."""

    def __init__(self, message: str, wait_s: float = 1.0) -> None:
        super().__init__(message)
        self.wait_s = wait_s


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, SentryError):
        return exc.transient
    if isinstance(exc, ValidationError):
        return False
    return isinstance(exc, IssueBusy | RedisError | OSError | TimeoutError)


def backoff_s(
    attempt: int, base_s: float, max_s: float, exc: BaseException | None = None,
    rand: random.Random | None = None,
) -> float:
    """Exponential backoff with full jitter, never shorter than Sentry's own Retry-After."""
    ceiling = min(max_s, base_s * 2 ** max(attempt - 1, 0))
    delay = (rand or random).uniform(ceiling / 2, ceiling)
    if isinstance(exc, SentryRateLimited):
        delay = max(delay, exc.retry_after_s)
    return delay


def describe(exc: BaseException) -> str:
    """A one-line error for the job record: type and message, never a token (the client omits it)."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return "TimeoutError: the try took longer than the job timeout"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return redact(f"{type(exc).__name__}: {text}")[:500]
