"""What every API call goes through before its handler: latency, the token, the organization,
injected faults; and after: the call log (`METHOD /path > status`) tests and benchmarks read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from standin.errors import Invalid, ServerError, detail, field_errors, internal_error, not_found
from standin.state import StandinState

log = structlog.get_logger("standin")


@dataclass(frozen=True)
class Caller:
    """Who the token belongs to: notes are authored by, and editable only by, this user."""

    user_id: str


Handler = Callable[[Request, Caller], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class Dropped(Response):
    """Starts an answer and hangs up: the server closes the connection mid-body (a dropped call)."""

    def __init__(self) -> None:
        super().__init__(status_code=0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"512")]})
        await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or DRF's parse error."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise Invalid({"detail": f"JSON parse error - {exc}"}) from None
    if not isinstance(body, dict):
        raise Invalid({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    return body


def injected(state: StandinState) -> Response | None:
    if not state.faults:
        return None
    fault = state.faults[0]
    fault.count -= 1
    if fault.count <= 0:
        state.faults.pop(0)
    if fault.status == 0:
        return Dropped()
    if fault.status == 429:
        # As Sentry's middleware answers: no Retry-After, the budget spent until the reset (whole
        # epoch seconds, as Sentry sends it: at most `retry_after_s` from now).
        reset = int(time.time() + (fault.retry_after_s or state.rate.window_s))
        headers = {"X-Sentry-Rate-Limit-Remaining": "0", "X-Sentry-Rate-Limit-Reset": str(reset),
                   "X-Sentry-Rate-Limit-Limit": str(state.rate.limit)}
        message = (f"You are attempting to use this endpoint too frequently. Limit is "
                   f"{state.rate.limit} requests in {state.rate.window_s} seconds")
        return detail(message, 429, headers)
    return detail("injected", fault.status)


async def guard(state: StandinState, request: Request) -> Response | Caller:
    """Latency, auth and injected faults, in that order, for every API call."""
    if state.latency_s:
        await asyncio.sleep(state.latency_s)
    auth = request.headers.get("authorization", "")
    user_id = state.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
    if user_id is None:
        return detail("Invalid token", 401)
    if request.path_params.get("org", state.organization) != state.organization:
        return not_found()
    return injected(state) or Caller(user_id)


def record(state: StandinState, request: Request, endpoint: str, status: int) -> None:
    state.calls.append({"method": request.method, "path": request.url.path, "endpoint": endpoint,
                        "status": status, "at": time.time()})
    log.info(f"{request.method} {request.url.path} > {status}")


def api(state: StandinState, endpoint: str, handler: Handler) -> Endpoint:
    """Wrap a handler of Sentry's API: guarded, its refusals in Sentry's shape, recorded."""

    async def run(request: Request) -> Response:
        checked = await guard(state, request)
        if isinstance(checked, Response):
            response = checked
        else:
            try:
                response = await handler(request, checked)
            except Invalid as exc:
                response = field_errors(exc.errors)
            except ServerError:
                response = internal_error()
        record(state, request, endpoint, response.status_code)
        return response

    return run


class Standin:
    """For endpoint modules written as `routes(s)` with `s.state` and `s.call(request, endpoint,
    handle)`: the same guard and record as `api`, for a handler that needs no caller."""

    def __init__(self, state: StandinState) -> None:
        self.state = state

    async def call(self, request: Request, endpoint: str, handler: Endpoint) -> Response:
        async def with_caller(request: Request, _caller: Caller) -> Response:
            return await handler(request)

        return await api(self.state, endpoint, with_caller)(request)
