"""An issue's events: the paginated list and one event (`latest`, `oldest`, `recommended` or its id)."""

from __future__ import annotations

from functools import partial

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standin.errors import not_found
from standin.guard import Caller, api
from standin.issues import ISSUE, find_issue
from standin.pagination import paginate
from standin.state import StandinState

SUMMARY_KEYS = ("id", "eventID", "groupID", "title", "message", "platform", "dateCreated", "tags", "user")


async def _events(state: StandinState, request: Request, _caller: Caller) -> Response:
    issue = find_issue(state, request.path_params["issue_id"])
    if issue is None:
        return not_found()
    event = state.events.get(issue["id"])
    full = request.query_params.get("full") in ("true", "1")
    items = [event if full else {k: event.get(k) for k in SUMMARY_KEYS}] if event else []
    return paginate(request, items)


async def _event(state: StandinState, request: Request, _caller: Caller) -> Response:
    issue = find_issue(state, request.path_params["issue_id"])
    event = state.events.get(issue["id"]) if issue else None
    wanted = request.path_params["event_id"]
    known = ("latest", "oldest", "recommended", event.get("eventID"), event.get("id")) if event else ()
    if event is None or wanted not in known:
        return not_found()
    return JSONResponse(event)


def routes(state: StandinState) -> list[Route]:
    return [
        Route(ISSUE + "events/", api(state, "events", partial(_events, state)), methods=["GET"]),
        Route(ISSUE + "events/{event_id}/", api(state, "event", partial(_event, state)), methods=["GET"]),
    ]
