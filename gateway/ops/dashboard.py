"""The dashboard page: one server-rendered shell; the script in static/ fills it from the API."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.ops.auth import COOKIE, refusal, token_matches
from gateway.state import GatewayState

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=select_autoescape()
)


async def page(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    secret = state.settings.dashboard_token
    token = secret.get_secret_value() if secret else None
    given = request.query_params.get("token")
    if token is not None and given is not None:
        # Trade the token in the URL for a cookie at once, so it is not left in history or logs.
        if not token_matches(given, token):
            return HTMLResponse("<h1>401</h1><p>Wrong dashboard token.</p>", status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response
    denied = refusal(request, token)
    if denied is not None:
        hint = (
            "Open /?token=&lt;RESPONDER_DASHBOARD_TOKEN&gt; once." if token is not None
            else "The dashboard answers on localhost only; set RESPONDER_DASHBOARD_TOKEN to open it to the network."
        )
        return HTMLResponse(f"<h1>{denied.status_code}</h1><p>{hint}</p>", status_code=denied.status_code)
    html = TEMPLATES.get_template("dashboard.html").render(dry_run=state.settings.dry_run)
    return HTMLResponse(html)
