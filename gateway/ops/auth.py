"""Who may use the ops routes (the dashboard and /api): pure decisions, then a thin guard.

Public functions (other ops surfaces reuse them):
- `authorize(...)`: the whole decision for one request, from plain values -> `Denial | None`.
- `check(request)`: `authorize` fed from a Starlette request and the gateway's settings.
- `protected(endpoint)`: wrap an endpoint with `check`, the login throttle and a 503 for Redis.
- `issue_session(token, now_s)` / `session_valid(token, cookie, now_s, max_age_s)`: the cookie.
- `cross_site(...)`, `proxied(headers)`, `is_loopback(host)`: the building blocks.

With `RESPONDER_DASHBOARD_TOKEN` set (32 characters or more), a caller shows the token as
`Authorization: Bearer <token>`, or carries the session cookie that `POST /login` sets. The
cookie holds its issue time and an HMAC over it keyed from the token: never the token, expiring
after `RESPONDER_DASHBOARD_SESSION_S`, and void for every session once the token changes.

Without a token the ops routes are served only when the gateway listens on a loopback address,
to loopback clients that name a loopback host (a web page cannot reach them through DNS
rebinding), and never to a request that passed through a proxy (`Forwarded`, `X-Forwarded-*`,
`X-Real-IP`, `Via`): behind a proxy every Internet client would look like loopback.

In both modes a state-changing request (anything but GET/HEAD/OPTIONS) must come from the same
site: `Sec-Fetch-Site` when the browser sends it, else `Origin` against `Host`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import error_response
from gateway.throttle import LoginThrottle

COOKIE = "responder_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Besides the standard ones, the client-address headers CDNs and ingresses set (Cloudflare and its
# tunnel, Akamai, Fastly, ingress-nginx, Envoy): any of them on a loopback peer means a proxy.
PROXY_HEADERS = (
    "forwarded", "x-real-ip", "via", "cf-connecting-ip", "true-client-ip", "x-client-ip", "client-ip",
    "x-cluster-client-ip", "fastly-client-ip", "x-original-forwarded-for", "x-envoy-external-address",
)
SAME_SITE_FETCH = frozenset({"same-origin", "none"})  # "none": typed into the address bar

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Denial:
    status: int
    error: str
    detail: str
    retry_after_s: int | None = None

    def response(self) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="responder"'} if self.status == 401 else {}
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return error_response(self.status, self.error, self.detail, headers=headers)


# --- the session cookie


def _session_key(token: str) -> bytes:
    return hmac.digest(token.encode(), b"responder-dashboard-session-v1", "sha256")


def issue_session(token: str, now_s: float) -> str:
    """`<issued at>.<hmac>`: says when it was issued, proves the token was known then."""
    issued = str(int(now_s))
    return f"{issued}.{hmac.new(_session_key(token), issued.encode(), hashlib.sha256).hexdigest()}"


def session_valid(token: str, cookie: str | None, now_s: float, max_age_s: float) -> bool:
    issued, _, mac = (cookie or "").partition(".")
    if not issued.isdigit() or len(issued) > 12:
        return False
    expected = hmac.new(_session_key(token), issued.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return False
    age_s = now_s - int(issued)
    return -60 <= age_s < max_age_s  # a minute of clock skew between gateway replicas


def token_matches(token: str, offered: str) -> bool:
    return hmac.compare_digest(token.encode(), offered.encode())


def bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


# --- where a request comes from


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 or `localhost`: a name a page elsewhere cannot make point here."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str | None) -> str | None:
    try:
        return urlsplit(f"//{host_header}").hostname if host_header else None
    except ValueError:
        return None


def proxied(headers: Mapping[str, str]) -> bool:
    """The request names a hop in between: its real client is not the socket's peer."""
    return any(name in headers for name in PROXY_HEADERS) or any(
        name.startswith("x-forwarded-") for name in headers
    )


def foreign_origin(origin: str | None, host_header: str | None) -> bool:
    """A browser sends `Origin` on cross-site requests; curl and same-origin fetches match Host."""
    if not origin:
        return False
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return True
    return netloc != (host_header or "").lower()


def cross_site(method: str, origin: str | None, host_header: str | None, fetch_site: str | None) -> bool:
    """A state-changing request another site made the browser send (CSRF). `Sec-Fetch-Site` is
    the browser's own verdict and survives a proxy that rewrites `Host`; `Origin` is the fallback."""
    if method in SAFE_METHODS:
        return False
    if fetch_site:
        return fetch_site.lower() not in SAME_SITE_FETCH
    return foreign_origin(origin, host_header)


# --- the decision


@dataclass(frozen=True)
class Caller:
    """What the decision needs to know of one request (plain values: easy to test and fuzz)."""

    method: str = "GET"
    authorization: str | None = None
    cookie: str | None = None
    client_host: str | None = None
    host_header: str | None = None
    origin: str | None = None
    fetch_site: str | None = None
    via_proxy: bool = False
    server_host: str | None = None  # the local address the request arrived on


def authorize(
    token: SecretStr | None,
    caller: Caller,
    *,
    bind_host: str | None = None,
    session_s: float = 12 * 3600,
    now_s: float | None = None,
) -> Denial | None:
    """None when the request may go ahead, else why not (401, 403)."""
    if cross_site(caller.method, caller.origin, caller.host_header, caller.fetch_site):
        return Denial(403, "forbidden", "cross-site requests may not change anything")
    if token is None:
        return _loopback_only(caller, bind_host)
    secret = token.get_secret_value()
    offered = bearer(caller.authorization)
    if offered is not None and token_matches(secret, offered):
        return None
    if session_valid(secret, caller.cookie, time.time() if now_s is None else now_s, session_s):
        return None
    return Denial(
        401, "unauthorized",
        "send Authorization: Bearer <RESPONDER_DASHBOARD_TOKEN>, or sign in on the dashboard page",
    )


def ops_open_without_token(bind_host: str | None) -> bool:
    """Without a token the ops routes exist only on a gateway listening on loopback."""
    return bind_host is None or is_loopback(bind_host)


def _loopback_only(caller: Caller, bind_host: str | None) -> Denial | None:
    if not ops_open_without_token(bind_host) or (caller.server_host and not is_loopback(caller.server_host)):
        return Denial(
            403, "forbidden",
            "ops routes are off: the gateway listens on a non-loopback address and RESPONDER_DASHBOARD_TOKEN is unset",
        )
    if caller.via_proxy:
        return Denial(
            403, "forbidden",
            "ops routes refuse proxied requests without a token: set RESPONDER_DASHBOARD_TOKEN",
        )
    if is_loopback(caller.client_host) and is_loopback(_hostname(caller.host_header)):
        return None
    return Denial(
        403, "forbidden", "ops routes answer only on localhost unless RESPONDER_DASHBOARD_TOKEN is set"
    )


# --- failed logins, throttled per client (gateway/throttle.py keeps the counts)


def throttled(throttle: LoginThrottle, client: str, now_s: float) -> Denial | None:
    wait_s = throttle.retry_after_s(client, now_s)
    if wait_s is None:
        return None
    return Denial(429, "too_many_attempts", f"too many failed sign-ins; retry in {wait_s} s", wait_s)


# --- the Starlette edge


def caller_of(request: Request) -> Caller:
    headers = request.headers
    server = request.scope.get("server")
    return Caller(
        method=request.method,
        authorization=headers.get("authorization"),
        cookie=request.cookies.get(COOKIE),
        client_host=request.client.host if request.client else None,
        host_header=headers.get("host"),
        origin=headers.get("origin"),
        fetch_site=headers.get("sec-fetch-site"),
        via_proxy=proxied(headers),
        server_host=str(server[0]) if server else None,
    )


def check(request: Request) -> Denial | None:
    state = request.app.state.gateway
    settings = state.settings
    caller = caller_of(request)
    client = caller.client_host or "?"
    now_s = time.time()
    if settings.dashboard_token is not None and bearer(caller.authorization) is not None:
        denial = throttled(state.login_throttle, client, now_s)
        if denial is not None:
            return denial
    denial = authorize(
        settings.dashboard_token, caller, bind_host=settings.bind_host,
        session_s=settings.dashboard_session_s, now_s=now_s,
    )
    if denial is not None and denial.status == 401 and bearer(caller.authorization) is not None:
        state.login_throttle.failed(client, now_s)  # a wrong bearer token is a failed sign-in too
    return denial


def protected(endpoint: Endpoint) -> Endpoint:
    """Wrap an ops endpoint: refuse unauthorized callers; a Redis outage is a 503, not a 500."""

    async def guarded(request: Request) -> Response:
        denial = check(request)
        if denial is not None:
            return denial.response()
        try:
            response = await endpoint(request)
        except (RedisError, OSError, TimeoutError):
            response = error_response(503, "store_unavailable", "the job store (Redis) is unreachable")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    guarded.__name__ = getattr(endpoint, "__name__", "guarded")
    return guarded
