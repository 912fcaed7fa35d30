"""Errors from Sentry's API, one hierarchy, each carrying what a log line or a job record needs.

    SentryError                     status, detail, method, path (never the host's token)
    ├── SentryAuthError             401: the token is wrong or revoked          (permanent)
    ├── SentryForbidden             403: the token lacks a scope                (permanent)
    ├── SentryNotFound              404: the issue or event is gone             (permanent)
    ├── SentryRateLimited           429: wait `retry_after_s`                   (transient)
    ├── SentryServerError           5xx                                         (transient)
    ├── SentryClientError           any other 4xx                               (permanent)
    └── SentryTransportError        no answer: connect, read, timeout           (transient)
"""

from __future__ import annotations


class SentryError(Exception):
    transient = False

    def __init__(self, status: int | None, detail: str, method: str, path: str) -> None:
        self.status = status
        self.detail = detail
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} -> {status if status is not None else 'no answer'}: {detail}")


class SentryAuthError(SentryError):
    pass


class SentryForbidden(SentryError):
    pass


class SentryNotFound(SentryError):
    pass


class SentryClientError(SentryError):
    pass


class SentryServerError(SentryError):
    transient = True


class SentryTransportError(SentryError):
    transient = True


class SentryRateLimited(SentryError):
    transient = True

    def __init__(self, detail: str, method: str, path: str, retry_after_s: float) -> None:
        super().__init__(429, detail, method, path)
        self.retry_after_s = retry_after_s


def error_for(status: int, detail: str, method: str, path: str, retry_after_s: float = 1.0) -> SentryError:
    if status == 429:
        return SentryRateLimited(detail, method, path, retry_after_s)
    kind: type[SentryError] = {401: SentryAuthError, 403: SentryForbidden, 404: SentryNotFound}.get(
        status, SentryServerError if status >= 500 else SentryClientError
    )
    return kind(status, detail, method, path)
