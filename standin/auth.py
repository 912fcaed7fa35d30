"""A Sentry-app installation's token exchange, as strict as Sentry's
(src/sentry/sentry_apps/api/endpoints/sentry_app_authorizations.py and token_exchange/).

The client id and secret must be the app's; `grant_type` is `authorization_code` (with the code
from `installation.created`: single use, expired ten minutes after it was issued) or
`refresh_token` (which revokes the token and refresh token it replaces, so a request still
carrying the old token gets a 401).
"""

from __future__ import annotations

import secrets
import time
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standin.errors import Invalid, detail, field_errors
from standin.guard import json_body, record
from standin.state import GRANT_TTL_S, TOKEN_TTL_S, Grant, StandinState


def _required(body: dict[str, Any], *names: str) -> None:
    missing = {n: ["This field is required."] for n in names if not body.get(n)}
    if missing:
        raise Invalid(missing)


def _issue_tokens(state: StandinState, uuid: str) -> dict[str, Any]:
    token, refresh = f"sntryi_{secrets.token_hex(16)}", secrets.token_hex(16)
    state.tokens[token] = state.integration_user["id"]
    state.refresh_tokens[refresh] = (uuid, token)
    now = state.now()
    answer = {"id": state.next_id(), "token": token, "refreshToken": refresh,
              "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now + TOKEN_TTL_S)),
              "dateCreated": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now)),
              "application": None, "scopes": ["event:write", "event:read", "project:read"], "state": None}
    state.installations[uuid] = {"token": token, "refreshToken": refresh}
    return answer


def _exchange(state: StandinState, uuid: str, body: dict[str, Any]) -> Response:
    if body.get("client_id") != state.client_id or body.get("client_secret") != state.client_secret:
        return detail("Invalid Client ID / Secret pair", 401)
    grant_type = body.get("grant_type")
    if grant_type == "authorization_code":
        _required(body, "client_id", "grant_type", "code")
        grant = state.grants.pop(str(body["code"]), None)  # single use: gone once tried
        if grant is None or grant.installation != uuid:
            return detail("Could not find grant for installation", 401)
        if state.now() > grant.expires_at:
            return detail("Grant has expired", 401)
    elif grant_type == "refresh_token":
        _required(body, "client_id", "grant_type", "refresh_token")
        owner = state.refresh_tokens.pop(str(body["refresh_token"]), None)
        if owner is None or owner[0] != uuid:
            return detail("Invalid refresh token", 401)
        state.tokens.pop(owner[1], None)  # the old token stops working now
    else:
        return detail("Invalid grant_type", 403)
    return JSONResponse(_issue_tokens(state, uuid), status_code=201)


async def _authorize(state: StandinState, request: Request) -> Response:
    try:
        response = _exchange(state, request.path_params["uuid"], await json_body(request))
    except Invalid as exc:
        response = field_errors(exc.errors)
    record(state, request, "authorizations", response.status_code)
    return response


def new_grant(state: StandinState, uuid: str) -> str:
    """What Sentry does at install: a grant code for `installation.created`."""
    code = secrets.token_hex(16)
    state.grants[code] = Grant(installation=uuid, expires_at=state.now() + GRANT_TTL_S)
    return code


def routes(state: StandinState) -> list[Route]:
    path = "/api/0/sentry-app-installations/{uuid}/authorizations/"
    return [Route(path, partial(_authorize, state), methods=["POST"])]
