"""A strict Sentry stand-in on loopback: Sentry's real API paths, JSON shapes and refusals.

For the demo (`sentry-responder dev` without credentials), the tests, the benchmarks and the
fault scenarios. It refuses what Sentry refuses (a fake that accepts anything hides bugs). Each
module serves one part of the API and registers its routes here; add an endpoint as a new module
with a `routes(state)` and one line below.
"""

from __future__ import annotations

import os
from functools import partial

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from standin import auth, control, events, issues, notes, org_issues, releases, tags
from standin.envelopes import envelope_routes
from standin.guard import Standin
from standin.ratelimit import RateLimitMiddleware
from standin.readapi import read_routes
from standin.state import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TOKEN, StandinState, seed

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "DEMO_TOKEN", "Standin", "app_from_env", "create_standin", "seed"]


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_standin(
    organization: str = "demo-org", token: str = DEMO_TOKEN, latency_s: float = 0.0,
    client_id: str = DEMO_CLIENT_ID, client_secret: str = DEMO_CLIENT_SECRET,
) -> Starlette:
    state = StandinState(organization=organization, tokens={}, latency_s=latency_s,
                         client_id=client_id, client_secret=client_secret)
    state.reset()
    state.tokens[token] = state.integration_user["id"]
    s = Standin(state)
    routes = [
        Route("/api/0/organizations/{org}/issues/", partial(org_issues.list_org_issues, s), methods=["GET"]),
        Route("/_standin/generate", partial(org_issues.generate, s), methods=["POST"]),
        *issues.routes(state),
        *events.routes(state),
        *notes.routes(state),
        *auth.routes(state),
        *control.routes(state),
        *releases.routes(s), *tags.routes(s),
        *read_routes(s),  # projects, stats, event ids, user events (the read API's)
        *envelope_routes(),  # the SDK's reports of the responder's own errors
        Route("/healthz", healthz),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(RateLimitMiddleware, state=state)])
    app.state.standin = state
    return app


def app_from_env() -> Starlette:
    """For `uvicorn --factory standin.app:app_from_env` (benchmarks and fault tests)."""
    app = create_standin(
        os.environ.get("STANDIN_ORGANIZATION", "demo-org"),
        os.environ.get("STANDIN_TOKEN", DEMO_TOKEN),
        float(os.environ.get("STANDIN_LATENCY_S", "0")),
        os.environ.get("STANDIN_CLIENT_ID", DEMO_CLIENT_ID),
        os.environ.get("STANDIN_CLIENT_SECRET", DEMO_CLIENT_SECRET),
    )
    rate = app.state.standin.rate
    rate.limit = int(os.environ.get("STANDIN_RATE_LIMIT", rate.limit))
    rate.window_s = int(os.environ.get("STANDIN_RATE_WINDOW_S", rate.window_s))
    rate.concurrent = int(os.environ.get("STANDIN_CONCURRENT_LIMIT", rate.concurrent))
    return app
