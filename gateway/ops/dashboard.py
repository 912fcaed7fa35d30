"""The dashboard page: one server-rendered shell; the script in static/ fills it from the API."""

from __future__ import annotations

import time
from html import escape as html_escape
from pathlib import Path
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.ops.auth import (
    COOKIE,
    Denial,
    caller_of,
    check,
    cross_site,
    issue_session,
    throttled,
    token_matches,
)
from gateway.state import GatewayState

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=select_autoescape()
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
MAX_LOGIN_FORM_BYTES = 4096


def login_page(message: str = "", status_code: int = 200) -> Response:
    html = TEMPLATES.get_template("login.html").render(message=message)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


async def login(request: Request) -> Response:
    """`POST /login` with the token in a form field (never in a URL, so never in an access log):
    trade it for a session cookie that carries its issue time and expires."""
    state: GatewayState = request.app.state.gateway
    settings = state.settings
    caller = caller_of(request)
    if cross_site(caller.method, caller.origin, caller.host_header, caller.fetch_site):
        return Denial(403, "forbidden", "cross-site sign-in refused").response()
    if settings.dashboard_token is None:
        return RedirectResponse("/", status_code=303)
    client = caller.client_host or "?"
    now_s = time.time()
    denial = throttled(state.login_throttle, client, now_s)
    if denial is not None:
        response = login_page(denial.detail, 429)
        response.headers["Retry-After"] = str(denial.retry_after_s)
        return response
    offered = await _form_token(request)
    secret = settings.dashboard_token.get_secret_value()
    if offered is None or not token_matches(secret, offered):
        state.login_throttle.failed(client, now_s)
        return login_page("That is not the dashboard token.", 401)
    state.login_throttle.succeeded(client)
    response = RedirectResponse("/", status_code=303, headers={"Referrer-Policy": "no-referrer"})
    response.set_cookie(
        COOKIE, issue_session(secret, now_s), max_age=int(settings.dashboard_session_s), httponly=True,
        samesite="strict", secure=request.url.scheme == "https", path="/",
    )
    return response


async def logout(request: Request) -> Response:
    caller = caller_of(request)
    if cross_site(caller.method, caller.origin, caller.host_header, caller.fetch_site):
        return Denial(403, "forbidden", "cross-site requests may not change anything").response()
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def _form_token(request: Request) -> str | None:
    """The `token` field of a small urlencoded form; anything else is no token."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_FORM_BYTES:
            return None
    values = parse_qs(body.decode("latin-1"), max_num_fields=4).get("token", [])
    return values[0] if len(values) == 1 else None


async def page(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    denial = check(request)
    if denial is not None:
        if denial.status == 401:  # token mode, not signed in: the form
            return login_page(status_code=401)
        return HTMLResponse(
            f"<h1>{denial.status}</h1><p>{html_escape(denial.detail)}</p>", status_code=denial.status,
            headers=SECURITY_HEADERS,
        )
    mode = {"internal": "internal integration", "public": "public integration", "payload-only": "no Sentry token"}
    html = TEMPLATES.get_template("dashboard.html").render(
        dry_run=state.settings.dry_run, mode=mode[state.settings.mode],
        signed_in=state.settings.dashboard_token is not None,
    )
    return HTMLResponse(html, headers=SECURITY_HEADERS)
