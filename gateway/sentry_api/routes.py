"""`/api/sentry/...`: the read/act API for internal services, each call behind a service token.

One table (`API`) lists every route with its parameters and answer model; the Starlette routes and
the OpenAPI schema are both built from it. The guard in `endpoint` authenticates, checks the
scope, validates, turns every failure into the gateway's error body, and logs one line per call
with the token's name (never the token).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.body import BodyTooLarge, read_body
from gateway.sentry_api import queries as q
from gateway.sentry_api.errors import ApiError, from_sentry
from gateway.sentry_api.models import (
    ActionAccepted,
    EventPage,
    EventStacktrace,
    IssueDetail,
    IssuePage,
    Projects,
    ProjectStats,
    UserEvents,
)
from gateway.sentry_api.service import ReadService, parse_window
from gateway.sentry_api.state import SentryApi
from gateway.sentry_api.tokens import ServiceToken, bearer, identify
from shared.api_actions import ActionRequest, action_delivery
from shared.queue import Intake
from shared.sentry.errors import SentryError

log = structlog.get_logger("gateway.sentry_api")

PREFIX = "/api/sentry"
MAX_ACTION_BODY_BYTES = 64 * 1024
UNMATCHED = PREFIX + "/{unmatched}"  # the metric's one label for every path no route takes
Handler = Callable[[Request, SentryApi, ServiceToken], Awaitable[Response]]


def problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


def parse(model: type[q.QueryT], values: dict[str, Any]) -> q.QueryT:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ApiError(422, "invalid_query", problems(exc)) from None


def ok(model: BaseModel, status: int = 200) -> Response:
    return Response(orjson.dumps(model.model_dump(mode="json")), status, media_type="application/json")


def reads(api: SentryApi) -> ReadService:
    if api.service is None:
        raise ApiError(503, "not_configured", "the read API needs SENTRY_AUTH_TOKEN and SENTRY_ORGANIZATION")
    return api.service


async def guarded(request: Request, handler: Handler, act: bool) -> tuple[Response, str | None]:
    api: SentryApi = request.app.state.sentry_api
    token = identify(api.tokens, bearer(request.headers.get("authorization")))
    try:
        if token is None:
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <a token from RESPONDER_SERVICE_TOKENS>")
        if act and not token.can_act:
            raise ApiError(403, "forbidden", f"service token {token.name!r} has scope read; this needs read+act")
        return await handler(request, api, token), token.name
    except ApiError as exc:
        return exc.response(), token.name if token else None
    except SentryError as exc:
        log.warning("api_sentry_error", error=str(exc))
        return from_sentry(exc).response(), token.name if token else None
    except (RedisError, OSError, TimeoutError):
        error = ApiError(503, "store_unavailable", "Redis (budget, cache, job store) is unreachable", 5.0)
        return error.response(), token.name if token else None


def endpoint(handler: Handler, route: str, act: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """`route`: the path's template, the metric's label."""

    async def run(request: Request) -> Response:
        started = time.perf_counter()
        response, name = await guarded(request, handler, act)
        response.headers["Cache-Control"] = "no-store"
        count_call(request, route, response.status_code)
        log.info(
            "api_call", token=name, method=request.method, path=request.url.path, status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response

    run.__name__ = handler.__name__
    return run


# --- handlers


async def projects(request: Request, api: SentryApi, _token: ServiceToken) -> Response:
    return ok(await reads(api).projects())


async def project_stats(request: Request, api: SentryApi, _token: ServiceToken) -> Response:
    path = parse(q.ProjectPath, dict(request.path_params))
    query = parse(q.StatsQuery, dict(request.query_params))
    return ok(await reads(api).project_stats(path.slug, query.period))


async def issues(request: Request, api: SentryApi, _token: ServiceToken) -> Response:
    query = parse(q.IssuesQuery, dict(request.query_params))
    return ok(await reads(api).issues(query.project, query.status, query.query, query.cursor, query.limit))


async def issue(request: Request, api: SentryApi, _token: ServiceToken) -> Response:
    path = parse(q.IssuePath, dict(request.path_params))
    parse(q.NoQuery, dict(request.query_params))
    return ok(await reads(api).issue_detail(path.issue_id))


async def issue_events(request: Request, api: SentryApi, _token: ServiceToken) -> Response:
    path = parse(q.IssuePath, dict(request.path_params))
    query = parse(q.EventsQuery, dict(request.query_params))
    return ok(await reads(api).issue_events(path.issue_id, query.limit, query.cursor))


async def event_stacktrace(request: Request, api: SentryApi, _token: ServiceToken) -> Response:
    path = parse(q.EventPath, dict(request.path_params))
    return ok(await reads(api).event_stacktrace(path.event_id.lower()))


async def user_events(request: Request, api: SentryApi, _token: ServiceToken) -> Response:
    path = parse(q.UserPath, dict(request.path_params))
    query = parse(q.UserEventsQuery, dict(request.query_params))
    return ok(await reads(api).user_events(path.user_id, query.at, parse_window(query.window)))


async def digest(request: Request, api: SentryApi, _token: ServiceToken) -> Response:
    path = parse(q.IssuePath, dict(request.path_params))
    query = parse(q.DigestQuery, dict(request.query_params))
    text = await reads(api).digest(path.issue_id, query.max_chars)
    return PlainTextResponse(text)


async def act(request: Request, api: SentryApi, token: ServiceToken) -> Response:
    path = parse(q.IssuePath, dict(request.path_params))
    try:
        body = await read_body(request, dict(request.headers), MAX_ACTION_BODY_BYTES)
    except BodyTooLarge:
        raise ApiError(413, "body_too_large", f"limit is {MAX_ACTION_BODY_BYTES} bytes") from None
    try:
        wanted = ActionRequest.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise ApiError(422, "invalid_body", problems(exc)) from None
    key = parse(q.IdempotencyKey, {"key": request.headers.get("idempotency-key")}).key
    accepted = await queue_action(api, path.issue_id, wanted, token.name, key)
    return ok(accepted, 202)


async def queue_action(
    api: SentryApi, issue_id: str, wanted: ActionRequest, requested_by: str, key: str | None
) -> ActionAccepted:
    """Queue the actions as a job (shared by the HTTP route and the MCP tool)."""
    delivery = action_delivery(issue_id, wanted, requested_by, key)
    if key is not None:
        earlier = await api.store.get(delivery.id)
        body = (earlier.payload or {}).get("body") if earlier is not None else None
        if isinstance(body, dict) and body.get("actions") != delivery.body["actions"]:
            raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for different actions")
    taken = (await api.queue.submit_many([Intake(delivery, actionable=True)]))[0]
    log.info("api_action_queued", token=requested_by, job_id=delivery.id, issue_id=issue_id, new=taken.new)
    return ActionAccepted(job_id=delivery.id, status="queued" if taken.new else "duplicate")


def count_call(request: Request, route: str, status: int) -> None:
    api: SentryApi = request.app.state.sentry_api
    if api.metrics is not None:
        api.metrics.count_api_call("http", route, status)


async def unknown(request: Request) -> Response:
    count_call(request, UNMATCHED, 404)
    return ApiError(404, "not_found", "no such route under /api/sentry (see /api/sentry/openapi.json)").response()


async def openapi(request: Request) -> Response:
    from gateway.sentry_api.openapi import schema

    return JSONResponse(schema())


@dataclass(frozen=True)
class ApiRoute:
    path: str
    handler: Handler
    summary: str
    answer: type[BaseModel] | None  # None: plain text
    query: type[BaseModel] | None = None
    method: str = "GET"
    act: bool = False
    body: type[BaseModel] | None = None
    headers: dict[str, str] = field(default_factory=dict)


API = [
    ApiRoute("/projects", projects, "The organization's projects", Projects),
    ApiRoute("/projects/{slug}/stats", project_stats, "Error events received, rejected and filtered",
             ProjectStats, q.StatsQuery),
    ApiRoute("/issues", issues, "Search issues (Sentry's cursors passed through)", IssuePage, q.IssuesQuery),
    ApiRoute("/issues/{issue_id}", issue, "An issue, its latest stack trace, tags and the responder's findings",
             IssueDetail),
    ApiRoute("/issues/{issue_id}/events", issue_events, "An issue's events", EventPage, q.EventsQuery),
    ApiRoute("/issues/{issue_id}/digest", digest, "A plain-text digest of an issue, secrets masked", None,
             q.DigestQuery),
    ApiRoute("/events/{event_id}/stacktrace", event_stacktrace, "An event's stack trace, normalized",
             EventStacktrace),
    ApiRoute("/users/{user_id}/events", user_events, "One user's events around a moment", UserEvents,
             q.UserEventsQuery),
    ApiRoute("/issues/{issue_id}/actions", act, "Queue actions on an issue (scope read+act)", ActionAccepted,
             method="POST", act=True, body=ActionRequest,
             headers={"Idempotency-Key": "the same key (per token) never queues the actions twice"}),
]


def sentry_api_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route(PREFIX + r.path, endpoint(r.handler, PREFIX + r.path, r.act), methods=[r.method]) for r in API
    ]
    routes.append(Route(PREFIX + "/openapi.json", openapi))
    return routes


def fallback_route() -> BaseRoute:
    """Registered after every other /api/sentry route (the MCP endpoint too): a JSON 404."""
    return Route(PREFIX + "/{rest:path}", unknown, methods=["GET", "POST", "PUT", "DELETE"])
