"""The read API's failures, turned into the gateway's error body (`{"error", "detail"}`) in one place.

    ApiError                 status, error, detail, retry_after_s
    └── BudgetSpent          429: the API's share of the Sentry budget is used up (Retry-After)

Errors from Sentry (shared/sentry/errors.py) map onto the same shape: 404 stays 404, Sentry's 429 is
a 429 with its Retry-After, an auth or scope problem of *our* token is a 502 (the caller cannot fix
it), anything else upstream a 502; nothing quotes a token.
"""

from __future__ import annotations

import math

from starlette.responses import JSONResponse, Response

from shared.sentry.errors import (
    SentryAuthError,
    SentryClientError,
    SentryError,
    SentryForbidden,
    SentryNotFound,
    SentryRateLimited,
)


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.retry_after_s = retry_after_s

    def response(self) -> Response:
        headers = {}
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_s)))
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="responder-api"'
        return JSONResponse({"error": self.error, "detail": self.detail}, self.status, headers=headers)


class BudgetSpent(ApiError):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            429, "budget_spent", "the read API's share of the Sentry budget is used up; retry later", retry_after_s
        )


def from_sentry(exc: SentryError) -> ApiError:
    if isinstance(exc, SentryNotFound):
        return ApiError(404, "not_found", "Sentry has no such resource")
    if isinstance(exc, SentryRateLimited):
        return ApiError(429, "sentry_rate_limited", "Sentry is rate limiting; retry later", exc.retry_after_s)
    if isinstance(exc, SentryAuthError | SentryForbidden):
        return ApiError(502, "sentry_refused", "the responder's Sentry token was refused (see its logs)")
    if isinstance(exc, SentryClientError):
        return ApiError(400, "sentry_rejected", f"Sentry rejected the query: {exc.detail[:200]}")
    return ApiError(502, "sentry_unavailable", "Sentry did not answer; retry later", 5.0)
