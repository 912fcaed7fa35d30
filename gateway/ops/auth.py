"""Who may read the jobs and replay them: a bearer token, or, without one, only this machine.

The webhook route stays open to Sentry (its signature is its authentication); these routes show
payloads and can queue work again, so they are never open to the network by accident.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

COOKIE = "responder_token"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def refusal(request: Request, token: str | None) -> Response | None:
    """None when the request may go on; otherwise the 401/403 to answer (never echoing a token)."""
    if token is not None:
        if token_matches(presented_token(request), token):
            return None
        return JSONResponse(
            {"error": "unauthorized", "detail": "send Authorization: Bearer <RESPONDER_DASHBOARD_TOKEN>"},
            status_code=401, headers={"WWW-Authenticate": "Bearer"},
        )
    host = request.client.host if request.client else ""
    if host in LOOPBACK:
        return None
    return JSONResponse(
        {"error": "forbidden", "detail": "the ops routes answer on localhost only; set RESPONDER_DASHBOARD_TOKEN"},
        status_code=403,
    )
