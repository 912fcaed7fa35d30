"""The dashboard page: one server-rendered shell; the script in static/ fills it from the API."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.ops.auth import COOKIE, Denial, check, cookie_value, token_matches
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
COOKIE_MAX_AGE_S = 30 * 24 * 3600


def login(request: Request, offered: str) -> Response:
    """`/?token=...`: trade the token for a cookie (derived from it, not it), and drop it from the URL."""
    token = request.app.state.gateway.settings.dashboard_token
    if token is None:
        return RedirectResponse("/", status_code=303)
    secret = token.get_secret_value()
    if not token_matches(secret, offered):
        return Denial(401, "unauthorized", "the token does not match RESPONDER_DASHBOARD_TOKEN").response()
    response = RedirectResponse("/", status_code=303, headers={"Referrer-Policy": "no-referrer"})
    response.set_cookie(
        COOKIE, cookie_value(secret), max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


async def page(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    offered = request.query_params.get("token")
    if offered is not None:
        return login(request, offered)
    denial = check(request)
    if denial is not None:
        return HTMLResponse(
            f"<h1>{denial.status}</h1><p>{denial.detail}</p>", status_code=denial.status, headers=SECURITY_HEADERS
        )
    mode = {"internal": "internal integration", "public": "public integration", "payload-only": "no Sentry token"}
    html = TEMPLATES.get_template("dashboard.html").render(
        dry_run=state.settings.dry_run, mode=mode[state.settings.mode]
    )
    return HTMLResponse(html, headers=SECURITY_HEADERS)
