"""Who may use the ops routes (the dashboard and /api): a pure decision, then a thin guard.

With `RESPONDER_DASHBOARD_TOKEN` set, a caller shows the token as `Authorization: Bearer <token>`
or carries the cookie the dashboard sets after one visit to `/?token=<token>`. The cookie holds
an HMAC derived from the token, never the token itself. Without a token the ops routes answer
only to loopback clients that name a loopback host (so a web page cannot reach them through
DNS rebinding), and refuse a `POST` from a foreign `Origin` (cross-site request forgery). With a
token, the cookie's `SameSite=Lax` already keeps it off cross-site `POST`s, and a bearer header is
never sent by a browser on its own; a proxy that rewrites `Host` then does no harm.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

COOKIE = "responder_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Denial:
    status: int
    error: str
    detail: str

    def response(self) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="responder"'} if self.status == 401 else {}
        return JSONResponse({"error": self.error, "detail": self.detail}, self.status, headers=headers)


def cookie_value(token: str) -> str:
    """What the cookie carries: derived from the token, so the cookie never reveals it."""
    return hmac.new(token.encode(), b"responder-dashboard-cookie", hashlib.sha256).hexdigest()


def token_matches(token: str, offered: str) -> bool:
    return hmac.compare_digest(token.encode(), offered.encode())


def bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or `localhost`: a name a page elsewhere cannot make point here."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str | None) -> str | None:
    try:
        return urlsplit(f"//{host_header}").hostname if host_header else None
    except ValueError:
        return None


def foreign_origin(origin: str | None, host_header: str | None) -> bool:
    """A browser sends `Origin` on cross-site requests; curl and same-origin fetches match Host."""
    if not origin:
        return False
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return True
    return netloc != (host_header or "").lower()


def authorize(
    token: SecretStr | None,
    *,
    authorization: str | None,
    cookie: str | None,
    client_host: str | None,
    host_header: str | None,
    method: str = "GET",
    origin: str | None = None,
) -> Denial | None:
    """None when the request may go ahead, else why not (401 or 403)."""
    if token is None:
        if method not in SAFE_METHODS and foreign_origin(origin, host_header):
            return Denial(403, "forbidden", "cross-origin requests may not change anything")
        if is_loopback(client_host) and is_loopback(_hostname(host_header)):
            return None
        return Denial(
            403, "forbidden",
            "ops routes answer only on localhost unless RESPONDER_DASHBOARD_TOKEN is set",
        )
    secret = token.get_secret_value()
    offered = bearer(authorization)
    if offered is not None and token_matches(secret, offered):
        return None
    if cookie and hmac.compare_digest(cookie_value(secret).encode(), cookie.encode()):
        return None
    return Denial(
        401, "unauthorized",
        "send Authorization: Bearer <RESPONDER_DASHBOARD_TOKEN>, or open /?token=<it> once in a browser",
    )


def check(request: Request) -> Denial | None:
    settings = request.app.state.gateway.settings
    return authorize(
        settings.dashboard_token,
        authorization=request.headers.get("authorization"),
        cookie=request.cookies.get(COOKIE),
        client_host=request.client.host if request.client else None,
        host_header=request.headers.get("host"),
        method=request.method,
        origin=request.headers.get("origin"),
    )


def protected(endpoint: Endpoint) -> Endpoint:
    """Wrap an ops endpoint: refuse unauthorized callers; a Redis outage is a 503, not a 500."""

    async def guarded(request: Request) -> Response:
        denial = check(request)
        if denial is not None:
            return denial.response()
        try:
            response = await endpoint(request)
        except (RedisError, OSError, TimeoutError):
            response = JSONResponse(
                {"error": "store_unavailable", "detail": "the job store (Redis) is unreachable"}, 503
            )
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    guarded.__name__ = getattr(endpoint, "__name__", "guarded")
    return guarded
