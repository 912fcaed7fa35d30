"""Issue details (GET/PUT) and the issue lists, as Sentry serves them.

A PUT is validated whole before anything is stored (status, substatus, statusDetails,
assignedTo); Sentry answers with the fields it changed, in the shape it stores them.
"""

from __future__ import annotations

import copy
import time
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standin.errors import not_found
from standin.guard import Caller, api, json_body
from standin.members import assignee, check_access, resolve_actor
from standin.pagination import paginate
from standin.state import StandinState
from standin.status import status_change

ISSUE = "/api/0/organizations/{org}/issues/{issue_id}/"


def find_issue(state: StandinState, issue_id: str) -> dict[str, Any] | None:
    """By numeric id or by short id (`PROJ-1A`), as the organization-scoped path accepts both."""
    found = state.issues.get(issue_id)
    return found or next((i for i in state.issues.values() if i.get("shortId") == issue_id), None)


def _assignment(state: StandinState, issue: dict[str, Any], value: object) -> dict[str, Any] | None:
    if value in (None, ""):
        return None
    kind, actor = resolve_actor(state, value)
    check_access(state.project(issue.get("project", {}).get("slug")), kind, actor)
    return assignee(kind, actor)


async def _issue(state: StandinState, request: Request, caller: Caller) -> Response:
    issue = find_issue(state, request.path_params["issue_id"])
    if issue is None:
        return not_found()
    if request.method == "GET":
        answer = copy.deepcopy(issue)
        if "owners" in request.query_params.getlist("expand"):
            stories = state.extra.get("owners", {})  # standin/scenarios.py
            answer["owners"] = state.org["issue_owners"].get(issue["id"]) or stories.get(issue["id"])
        return JSONResponse(answer)
    body = await json_body(request)
    changes: dict[str, Any] = {}
    if "status" in body:
        changes |= status_change(state, issue, body, caller.user_id)
    if "assignedTo" in body:
        changes["assignedTo"] = _assignment(state, issue, body["assignedTo"])
    for flag in ("hasSeen", "isBookmarked", "isSubscribed", "isPublic"):
        if flag in body:
            changes[flag] = bool(body[flag])
    state.updates.append({"issue_id": issue["id"], "body": body, "at": time.time()})
    issue.update({k: v for k, v in changes.items() if k != "inbox"})
    return JSONResponse(changes)


async def _issue_list(state: StandinState, request: Request, _caller: Caller) -> Response:
    project = request.path_params.get("project")
    items = [i for i in state.issues.values() if project is None or i.get("project", {}).get("slug") == project]
    return paginate(request, items, per_page_param="limit")


def routes(state: StandinState) -> list[Route]:
    issue, issue_list = partial(_issue, state), partial(_issue_list, state)
    return [
        Route(ISSUE, api(state, "issue", issue), methods=["GET", "PUT"]),
        Route("/api/0/projects/{org}/{project}/issues/", api(state, "issues", issue_list), methods=["GET"]),
    ]
