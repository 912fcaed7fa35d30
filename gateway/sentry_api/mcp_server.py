"""The read/act API as an MCP server, for agents: the same service, tokens, budget and cache.

Two transports: stdio (`sentry-responder mcp`, the caller named by `--as`, read-only without it)
and streamable HTTP on the gateway at `/api/sentry/mcp`, where every request shows a service token
(`McpEndpoint` refuses it otherwise, and each tool checks the token's scope again). Tools take
typed inputs and return the read API's pydantic models (structured output).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar

import structlog
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from gateway.errors import error_response
from gateway.sentry_api import queries as q
from gateway.sentry_api.errors import ApiError, from_sentry
from gateway.sentry_api.models import (
    ActionAccepted,
    EventPage,
    EventStacktrace,
    IssueDetail,
    IssuePage,
    Period,
    Projects,
    ProjectStats,
    UserEvents,
)
from gateway.sentry_api.routes import queue_action
from gateway.sentry_api.service import ReadService, parse_window
from gateway.sentry_api.state import SentryApi
from gateway.sentry_api.tokens import ServiceToken, bearer, identify
from shared.api_actions import ActionRequest
from shared.sentry.errors import SentryError
from shared.version import package_version

log = structlog.get_logger("gateway.sentry_api.mcp")
T = TypeVar("T")

INSTRUCTIONS = (
    "Sentry through the Sentry Responder: search issues, read an issue with its normalized stack trace "
    "and the responder's findings, get a short digest, see what happened to one customer around a "
    "moment, project stats; act_on_issue queues actions (needs a read+act token)."
)


# The statuses the HTTP routes answer for the same refusals (the metric's status class)
_REFUSALS = {"unauthorized": 401, "forbidden": 403, "not configured": 503}


def build_mcp(api: SentryApi, local: ServiceToken | None = None) -> MCPServer:
    """`local`: who a stdio caller is (the transport has no headers to show a token)."""
    server: MCPServer = MCPServer(name="sentry-responder", version=package_version(), instructions=INSTRUCTIONS)

    def caller(ctx: Context) -> ServiceToken:
        headers = ctx.headers
        if headers is None:
            if local is None:
                raise ToolError("unauthorized: no service token")
            return local
        token = identify(api.tokens, bearer(headers.get("authorization")))
        if token is None:
            raise ToolError("unauthorized: send Authorization: Bearer <service token>")
        return token

    def reads() -> ReadService:
        if api.service is None:
            raise ToolError("not configured: the responder has no Sentry token")
        return api.service

    async def run(ctx: Context, tool: str, work: Callable[[ServiceToken], Awaitable[T]], act: bool = False) -> T:
        started = time.perf_counter()
        status, http_status = "ok", 200  # the second as the HTTP route would answer, for the metric
        name: str | None = None
        try:
            token = caller(ctx)
            name = token.name
            if act and not token.can_act:
                raise ToolError(f"forbidden: service token {token.name!r} has scope read; this needs read+act")
            return await work(token)
        except ApiError as exc:
            status, http_status = exc.error, exc.status
            raise ToolError(f"{exc.error}: {exc.detail}") from None
        except SentryError as exc:
            error = from_sentry(exc)
            status, http_status = error.error, error.status
            raise ToolError(f"{error.error}: {error.detail}") from None
        except ToolError as exc:
            status, http_status = "refused", _REFUSALS.get(str(exc).split(":")[0], 403)
            raise
        except (RedisError, OSError, TimeoutError):
            status, http_status = "store_unavailable", 503
            raise ToolError("store_unavailable: Redis (budget, cache, job store) is unreachable") from None
        except BaseException:
            status, http_status = "error", 500  # a failure nothing above expected is not a success
            raise
        finally:
            log.info("mcp_call", token=name, tool=tool, status=status,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1))
            if api.metrics is not None:
                api.metrics.count_api_call("mcp", tool, http_status)

    @server.tool(description="The organization's projects.")
    async def list_projects(ctx: Context) -> Projects:
        return await run(ctx, "list_projects", lambda _t: reads().projects())

    @server.tool(description="Error events received, accepted, filtered and rejected for a project.")
    async def project_stats(ctx: Context, project: q.Slug, period: Period = "24h") -> ProjectStats:
        return await run(ctx, "project_stats", lambda _t: reads().project_stats(project, period))

    @server.tool(description="Search issues; pass next_cursor back as cursor for the next page.")
    async def list_issues(
        ctx: Context, project: q.Slug | None = None,
        status: Literal["unresolved", "resolved", "ignored", "archived"] | None = None,
        query: Annotated[str | None, Field(max_length=500, description="Sentry search syntax")] = None,
        cursor: q.Cursor | None = None, limit: Annotated[int, Field(ge=1, le=100)] = 25,
    ) -> IssuePage:
        return await run(ctx, "list_issues", lambda _t: reads().issues(project, status, query, cursor, limit))

    @server.tool(description="An issue with its latest stack trace (in-app frames first), tags and findings.")
    async def get_issue(ctx: Context, issue_id: q.IssueId) -> IssueDetail:
        return await run(ctx, "get_issue", lambda _t: reads().issue_detail(issue_id))

    @server.tool(description="An issue's events, newest first.")
    async def issue_events(
        ctx: Context, issue_id: q.IssueId, limit: Annotated[int, Field(ge=1, le=100)] = 25,
        cursor: q.Cursor | None = None,
    ) -> EventPage:
        return await run(ctx, "issue_events", lambda _t: reads().issue_events(issue_id, limit, cursor))

    @server.tool(description="An event's stack trace, normalized across platforms.")
    async def event_stacktrace(ctx: Context, event_id: q.EventId) -> EventStacktrace:
        return await run(ctx, "event_stacktrace", lambda _t: reads().event_stacktrace(event_id.lower()))

    @server.tool(description="A compact plain-text digest of an issue for a model or a chat; secrets masked.")
    async def issue_digest(
        ctx: Context, issue_id: q.IssueId, max_chars: Annotated[int, Field(ge=200, le=20000)] = 4000
    ) -> str:
        return await run(ctx, "issue_digest", lambda _t: reads().digest(issue_id, max_chars))

    @server.tool(description="What happened to one customer (Sentry user.id) around a moment.")
    async def customer_events(
        ctx: Context, user_id: Annotated[str, Field(min_length=1, max_length=200)], at: datetime,
        window: Annotated[str, Field(pattern=r"^\d{1,5}[smh]$")] = "5m",
    ) -> UserEvents:
        return await run(ctx, "customer_events", lambda _t: reads().user_events(user_id, at, parse_window(window)))

    @server.tool(description="Queue actions on an issue (comment, assign, resolve, resolve_in_next_release, "
                             "unresolve, ignore); needs a read+act token. Same idempotency_key: done once.")
    async def act_on_issue(
        ctx: Context, issue_id: q.IssueId, actions: ActionRequest,
        idempotency_key: Annotated[str | None, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")] = None,
    ) -> ActionAccepted:
        return await run(
            ctx, "act_on_issue", lambda token: queue_action(api, issue_id, actions, token.name, idempotency_key),
            act=True,
        )

    return server


class McpEndpoint:
    """`/api/sentry/mcp`: streamable HTTP (stateless, JSON answers), only with a service token."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":  # stateless JSON answers: no stream to GET, no session to DELETE
            refusal = error_response(405, "method_not_allowed", "send JSON-RPC requests with POST",
                                     headers={"Allow": "POST"})
            await refusal(scope, receive, send)
            return
        api: SentryApi = scope["app"].state.sentry_api
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        token = identify(api.tokens, bearer(headers.get("authorization")))
        if token is None or api.mcp_http is None:
            error = ApiError(401, "unauthorized", "send Authorization: Bearer <a token from RESPONDER_SERVICE_TOKENS>")
            await error.response()(scope, receive, send)
            return
        await api.mcp_http.handle_request(scope, receive, send)


def http_session_manager(server: MCPServer) -> StreamableHTTPSessionManager:
    """Stateless, so any gateway process can answer any request; no DNS-rebinding check is needed
    behind a bearer token (a browser never sends one on its own)."""
    return StreamableHTTPSessionManager(
        app=server._lowlevel_server, json_response=True, stateless=True,
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

