"""`/_standin/*`: what tests, benchmarks and the demo use to read the state, inject faults,
set the rate limits, hand out grant codes and tokens, and reset. Not part of Sentry's API."""

from __future__ import annotations

import copy
import secrets
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standin.auth import new_grant
from standin.state import Fault, StandinState


async def calls(state: StandinState, _request: Request) -> Response:
    return JSONResponse(state.summary())


async def snapshot(state: StandinState, _request: Request) -> Response:
    keys = ("status", "substatus", "statusDetails", "assignedTo")
    return JSONResponse({
        "notes": state.notes, "updates": state.updates,
        "issues": {k: {key: v.get(key) for key in keys} for k, v in state.issues.items()},
    })


async def clone(state: StandinState, request: Request) -> Response:
    """Add `count` issues (ids from `start`) cloned from a seeded one, for load and fault tests."""
    spec = await request.json()
    template_id = str(spec.get("from", "1170820242"))
    start, count = int(spec["start"]), int(spec["count"])
    for n in range(start, start + count):
        issue = copy.deepcopy(state.issues[template_id]) | {"id": str(n), "shortId": f"CLONE-{n}"}
        state.issues[str(n)] = issue
        if template_id in state.events:
            state.events[str(n)] = copy.deepcopy(state.events[template_id]) | {"groupID": str(n)}
    return JSONResponse({"issues": len(state.issues)})


async def faults(state: StandinState, request: Request) -> Response:
    """Queue faults for the next calls: `{"status": 503, "count": 3}`, a 429 spending the budget for
    `"retry_after_s"` (answered as Sentry does: reset header, no Retry-After), `{"status": 0}` to drop
    the connection mid-answer; `{"latency_s": 0.5}`."""
    spec = await request.json()
    if "latency_s" in spec:
        state.latency_s = float(spec["latency_s"])
    if "status" in spec:
        state.faults.append(Fault(int(spec["status"]), int(spec.get("count", 1)), spec.get("retry_after_s")))
    return JSONResponse({"faults": len(state.faults), "latency_s": state.latency_s})


async def rate_limit(state: StandinState, request: Request) -> Response:
    """`{"limit": 40, "window_s": 1, "concurrent": 3}`: any of Sentry's budget numbers."""
    spec: dict[str, Any] = await request.json()
    for name in ("limit", "window_s", "concurrent"):
        if name in spec:
            setattr(state.rate, name, int(spec[name]))
    return JSONResponse(vars(state.rate))


async def installation(state: StandinState, request: Request) -> Response:
    """Install the app: a grant code for `installation.created`, as Sentry issues one."""
    spec: dict[str, Any] = await request.json()
    uuid = str(spec.get("uuid") or secrets.token_hex(16))
    return JSONResponse({"uuid": uuid, "code": new_grant(state, uuid)})


async def token(state: StandinState, request: Request) -> Response:
    """A token for another user (`{"user_id": "7"}`), to act as a person rather than the integration."""
    spec: dict[str, Any] = await request.json()
    value = f"sntryu_{secrets.token_hex(16)}"
    state.tokens[value] = str(spec["user_id"])
    return JSONResponse({"token": value})


async def reset(state: StandinState, _request: Request) -> Response:
    state.reset()
    return JSONResponse({"reset": True})


def routes(state: StandinState) -> list[Route]:
    post = ["POST"]
    return [
        Route("/_standin/calls", partial(calls, state)),
        Route("/_standin/state", partial(snapshot, state)),
        Route("/_standin/faults", partial(faults, state), methods=post),
        Route("/_standin/ratelimit", partial(rate_limit, state), methods=post),
        Route("/_standin/installations", partial(installation, state), methods=post),
        Route("/_standin/tokens", partial(token, state), methods=post),
        Route("/_standin/reset", partial(reset, state), methods=post),
        Route("/_standin/clone", partial(clone, state), methods=post),
    ]
