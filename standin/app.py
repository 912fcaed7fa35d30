"""A Sentry stand-in on loopback: Sentry's real API paths and JSON shapes, state in memory.

For the demo (`sentry-responder dev` without credentials), the tests, the benchmarks and the
fault scenarios. Seeded from Sentry's published examples (standin/seed/). Each call is logged
as `METHOD /path > status` and counted; `/_standin/*` lets a test read the state, inject faults
(errors, 429s with Retry-After, latency) and reset.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.resources import files
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from standin import org_issues, releases, scenarios, tags

log = structlog.get_logger("standin")
NOT_FOUND = {"detail": "The requested resource does not exist"}
DEMO_TOKEN = "sntrys_standin_demo_token"


def seed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files("standin").joinpath("seed/issues.json").read_text())
    return scenarios.merged(data, datetime.now(UTC))


class Dropped(Response):
    """Starts an answer and hangs up: the server closes the connection mid-body (a dropped call)."""

    def __init__(self) -> None:
        super().__init__(status_code=0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"512")]})
        await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})


@dataclass
class Fault:
    status: int
    count: int
    retry_after_s: float | None = None


@dataclass
class StandinState:
    organization: str
    tokens: set[str]
    latency_s: float = 0.0
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    installations: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # releases, commitfiles, tags (issue 21)
    clock: Callable[[], float] = time.time  # "now" for statsPeriod; tests with fixed stories fix it
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))

    def reset(self) -> None:
        data = seed()
        self.issues = {i["id"]: i for i in copy.deepcopy(data["issues"])}
        self.events = copy.deepcopy(data["events"])
        self.extra = copy.deepcopy({k: v for k, v in data.items() if k not in ("issues", "events")})
        self.notes, self.updates, self.calls, self.faults = {}, [], [], []

    def next_id(self) -> str:
        return str(next(self._ids))

    def summary(self) -> dict[str, Any]:
        by_endpoint = Counter(f"{c['method']} {c['endpoint']}" for c in self.calls)
        return {"total": len(self.calls), "by_endpoint": dict(by_endpoint), "calls": self.calls[-500:]}


def _issue_path(org: str) -> str:
    return f"/api/0/organizations/{org}/issues"


class Standin:
    def __init__(self, state: StandinState) -> None:
        self.state = state

    async def guard(self, request: Request, endpoint: str) -> Response | None:
        """Latency, auth and injected faults, in that order, for every API call."""
        if self.state.latency_s:
            await asyncio.sleep(self.state.latency_s)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.state.tokens:
            return JSONResponse({"detail": "Invalid token"}, status_code=401)
        if request.path_params.get("org", self.state.organization) != self.state.organization:
            return JSONResponse(NOT_FOUND, status_code=404)
        if self.state.faults:
            fault = self.state.faults[0]
            fault.count -= 1
            if fault.count <= 0:
                self.state.faults.pop(0)
            if fault.status == 0:
                return Dropped()
            headers = {"Retry-After": str(fault.retry_after_s)} if fault.retry_after_s is not None else {}
            detail = "You are attempting to use this endpoint too frequently." if fault.status == 429 else "injected"
            return JSONResponse({"detail": detail}, status_code=fault.status, headers=headers)
        return None

    def record(self, request: Request, endpoint: str, status: int) -> None:
        self.state.calls.append({"method": request.method, "path": request.url.path, "endpoint": endpoint,
                                 "status": status, "at": time.time()})
        log.info(f"{request.method} {request.url.path} > {status}")

    async def call(self, request: Request, endpoint: str, handler: Any) -> Response:
        response = await self.guard(request, endpoint) or await handler(request)
        self.record(request, endpoint, response.status_code)
        return response

    # --- Sentry's API

    async def issue(self, request: Request) -> Response:
        async def handle(request: Request) -> Response:
            issue = self.state.issues.get(request.path_params["issue_id"])
            if issue is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            if request.method == "PUT":
                body = await request.json()
                self.state.updates.append({"issue_id": issue["id"], "body": body, "at": time.time()})
                for key in ("status", "substatus", "statusDetails"):
                    if key in body:
                        issue[key] = body[key]
                if "assignedTo" in body:
                    kind, _, ident = str(body["assignedTo"]).partition(":")
                    issue["assignedTo"] = {
                        "type": kind if ident else "user", "id": ident or kind, "name": body["assignedTo"],
                    } if body["assignedTo"] else None  # "" unassigns, as in Sentry
                return JSONResponse(body)
            return JSONResponse(issue)

        return await self.call(request, "issue", handle)

    async def events(self, request: Request) -> Response:
        async def handle(request: Request) -> Response:
            event = self.state.events.get(request.path_params["issue_id"])
            if request.path_params["issue_id"] not in self.state.issues:
                return JSONResponse(NOT_FOUND, status_code=404)
            return JSONResponse([event] if event else [])

        return await self.call(request, "events", handle)

    async def event(self, request: Request) -> Response:
        async def handle(request: Request) -> Response:
            event = self.state.events.get(request.path_params["issue_id"])
            wanted = request.path_params["event_id"]
            known = ("latest", "oldest", "recommended", event.get("eventID"), event.get("id")) if event else ()
            if event is None or wanted not in known:
                return JSONResponse(NOT_FOUND, status_code=404)
            return JSONResponse(event)

        return await self.call(request, "event", handle)

    async def comments(self, request: Request) -> Response:
        async def handle(request: Request) -> Response:
            issue_id = request.path_params["issue_id"]
            if issue_id not in self.state.issues:
                return JSONResponse(NOT_FOUND, status_code=404)
            notes = self.state.notes.setdefault(issue_id, [])
            if request.method == "GET":
                return JSONResponse(notes)
            text = (await request.json()).get("text", "")
            if any(n["data"]["text"] == text for n in notes):
                return JSONResponse({"detail": "You have already posted that comment."}, status_code=400)
            note = {"id": self.state.next_id(), "type": "note", "data": {"text": text},
                    "dateCreated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "user": {"id": "1", "name": "Sentry Responder (integration)"}}
            notes.insert(0, note)
            return JSONResponse(note, status_code=201)

        return await self.call(request, "comments", handle)

    async def note(self, request: Request) -> Response:
        async def handle(request: Request) -> Response:
            notes = self.state.notes.get(request.path_params["issue_id"], [])
            note = next((n for n in notes if n["id"] == request.path_params["note_id"]), None)
            if note is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            if request.method == "DELETE":
                notes.remove(note)
                return Response(status_code=204)
            note["data"]["text"] = (await request.json()).get("text", "")
            return JSONResponse(note)

        return await self.call(request, "note", handle)

    async def issue_list(self, request: Request) -> Response:
        async def handle(request: Request) -> Response:
            project = request.path_params.get("project")
            items = [
                i for i in self.state.issues.values()
                if project is None or i.get("project", {}).get("slug") == project
            ]
            cursor = request.query_params.get("cursor", "0:0:0")
            try:
                offset = int(cursor.split(":")[1])
            except (IndexError, ValueError):
                return JSONResponse({"detail": "Invalid cursor parameter."}, status_code=400)
            per_page = int(request.query_params.get("limit", "100"))
            page = items[offset : offset + per_page]
            more = offset + per_page < len(items)
            base = str(request.url.replace(query=""))
            previous = f"0:{max(offset - per_page, 0)}:1"
            link = (f'<{base}>; rel="previous"; results="{str(offset > 0).lower()}"; cursor="{previous}", '
                    f'<{base}>; rel="next"; results="{str(more).lower()}"; cursor="0:{offset + per_page}:0"')
            return JSONResponse(page, headers={"Link": link})

        return await self.call(request, "issues", handle)

    async def authorize(self, request: Request) -> Response:
        """Sentry-app installation token exchange (grant code or refresh token)."""
        uuid = request.path_params["uuid"]
        body = await request.json()
        token = f"sntryi_{self.state.next_id()}_{uuid[:8]}"
        self.state.tokens.add(token)
        answer = {"token": token, "refreshToken": f"refresh_{token}",
                  "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 8 * 3600))}
        self.state.installations[uuid] = {"grant_type": body.get("grant_type"), **answer}
        self.record(request, "authorizations", 201)
        return JSONResponse(answer, status_code=201)

    # --- control

    async def control_calls(self, _request: Request) -> Response:
        return JSONResponse(self.state.summary())

    async def control_state(self, _request: Request) -> Response:
        return JSONResponse({
            "notes": self.state.notes, "updates": self.state.updates,
            "issues": {
                k: {"status": v.get("status"), "substatus": v.get("substatus"), "assignedTo": v.get("assignedTo")}
                for k, v in self.state.issues.items()
            },
        })

    async def control_clone(self, request: Request) -> Response:
        """Add `count` issues (ids from `start`) cloned from a seeded one, for load and fault tests."""
        spec = await request.json()
        template_id = str(spec.get("from", "1170820242"))
        start, count = int(spec["start"]), int(spec["count"])
        for n in range(start, start + count):
            issue = copy.deepcopy(self.state.issues[template_id]) | {"id": str(n), "shortId": f"CLONE-{n}"}
            self.state.issues[str(n)] = issue
            if template_id in self.state.events:
                self.state.events[str(n)] = copy.deepcopy(self.state.events[template_id]) | {"groupID": str(n)}
        return JSONResponse({"issues": len(self.state.issues)})

    async def control_faults(self, request: Request) -> Response:
        """Queue faults for the next calls: `{"status": 503, "count": 3}`, a 429 with
        `"retry_after_s"`, `{"status": 0}` to drop the connection mid-answer; `{"latency_s": 0.5}`."""
        spec = await request.json()
        if "latency_s" in spec:
            self.state.latency_s = float(spec["latency_s"])
        if "status" in spec:
            self.state.faults.append(Fault(int(spec["status"]), int(spec.get("count", 1)), spec.get("retry_after_s")))
        return JSONResponse({"faults": len(self.state.faults), "latency_s": self.state.latency_s})

    async def control_reset(self, _request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"reset": True})


def create_standin(
    organization: str = "demo-org", token: str = DEMO_TOKEN, latency_s: float = 0.0
) -> Starlette:
    state = StandinState(organization=organization, tokens={token}, latency_s=latency_s)
    state.reset()
    s = Standin(state)
    issue = "/api/0/organizations/{org}/issues/{issue_id}/"
    routes = [
        Route(issue, s.issue, methods=["GET", "PUT"]),
        Route(issue + "events/", s.events, methods=["GET"]),
        Route(issue + "events/{event_id}/", s.event, methods=["GET"]),
        Route(issue + "comments/", s.comments, methods=["GET", "POST"]),
        Route(issue + "notes/", s.comments, methods=["GET", "POST"]),
        Route(issue + "comments/{note_id}/", s.note, methods=["PUT", "DELETE"]),
        Route(issue + "notes/{note_id}/", s.note, methods=["PUT", "DELETE"]),
        Route("/api/0/organizations/{org}/issues/", partial(org_issues.list_org_issues, s), methods=["GET"]),
        Route("/api/0/projects/{org}/{project}/issues/", s.issue_list, methods=["GET"]),
        Route("/api/0/sentry-app-installations/{uuid}/authorizations/", s.authorize, methods=["POST"]),
        *releases.routes(s), *tags.routes(s),
        Route("/_standin/calls", s.control_calls),
        Route("/_standin/state", s.control_state),
        Route("/_standin/faults", s.control_faults, methods=["POST"]),
        Route("/_standin/reset", s.control_reset, methods=["POST"]),
        Route("/_standin/clone", s.control_clone, methods=["POST"]),
        Route("/_standin/generate", partial(org_issues.generate, s), methods=["POST"]),
        Route("/healthz", lambda _r: JSONResponse({"status": "ok"})),
    ]
    app = Starlette(routes=routes)
    app.state.standin = state
    return app


def app_from_env() -> Starlette:
    """For `uvicorn --factory standin.app:app_from_env` (benchmarks and fault tests)."""
    import os

    return create_standin(
        os.environ.get("STANDIN_ORGANIZATION", "demo-org"),
        os.environ.get("STANDIN_TOKEN", DEMO_TOKEN),
        float(os.environ.get("STANDIN_LATENCY_S", "0")),
    )
