"""Issue comments (Sentry calls them notes): list, post, edit, delete.

As Sentry's notes endpoints do (src/sentry/issues/endpoints/group_notes.py and
group_notes_details.py): `text` is required; the same text from the same user within an hour is
refused; a note can be edited or deleted only by its author (anyone else gets a 404, because the
lookup is by author); the list is newest first, paginated with a Link header. The deprecated
unscoped path `/api/0/issues/{id}/comments/` answers too, with Sentry's deprecation headers.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from standin.errors import Invalid, detail, not_found
from standin.guard import Caller, api, json_body
from standin.issues import ISSUE, find_issue
from standin.pagination import paginate
from standin.state import StandinState

DUPLICATE_WINDOW_S = 3600
DEPRECATION = {
    "X-Sentry-Deprecation-Date": "2026-11-26T00:00:00Z",
    "X-Sentry-Replacement-Endpoint": "/api/0/organizations/{organization_id_or_slug}/issues/{issue_id}/notes/",
}


def _text(body: dict[str, Any]) -> str:
    if "text" not in body or body["text"] is None:
        raise Invalid.on("text", "This field is required.")
    text = str(body["text"])
    if not text.strip():
        raise Invalid.on("text", "This field may not be blank.")
    return text


def _author(state: StandinState, user_id: str) -> dict[str, Any]:
    user = state.user(user_id) or {"id": user_id, "name": "", "email": "", "username": ""}
    return {"id": user["id"], "name": user["name"], "username": user.get("username", ""), "email": user["email"]}


def _own_note(state: StandinState, issue_id: str, note_id: str, caller: Caller) -> dict[str, Any] | None:
    notes = state.notes.get(issue_id, [])
    return next((n for n in notes if n["id"] == note_id and n["user"]["id"] == caller.user_id), None)


async def _notes(state: StandinState, request: Request, caller: Caller) -> Response:
    issue = find_issue(state, request.path_params["issue_id"])
    if issue is None:
        return not_found()
    notes = state.notes.setdefault(issue["id"], [])
    if request.method == "GET":
        return paginate(request, notes)
    text = _text(await json_body(request))
    now = state.now()
    if any(n["data"]["text"] == text and n["user"]["id"] == caller.user_id
           and now - state.note_times.get(n["id"], 0.0) < DUPLICATE_WINDOW_S for n in notes):
        return detail("You have already posted that comment.")
    note_id = state.next_id()
    note = {"id": note_id, "type": "note", "data": {"text": text},
            "dateCreated": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now)),
            "user": _author(state, caller.user_id)}
    state.note_times[note_id] = now
    notes.insert(0, note)
    return JSONResponse(note, status_code=201)


async def _note(state: StandinState, request: Request, caller: Caller) -> Response:
    issue = find_issue(state, request.path_params["issue_id"])
    note = _own_note(state, issue["id"], request.path_params["note_id"], caller) if issue else None
    if issue is None or note is None:
        return not_found()
    if request.method == "DELETE":
        state.notes[issue["id"]].remove(note)
        return Response(status_code=204)
    note["data"]["text"] = _text(await json_body(request))
    return JSONResponse(note)


async def _deprecated(state: StandinState, request: Request, caller: Caller) -> Response:
    response = await _notes(state, request, caller)
    response.headers.update(DEPRECATION)
    return response


def routes(state: StandinState) -> list[Route]:
    notes, note = api(state, "comments", partial(_notes, state)), api(state, "note", partial(_note, state))
    return [
        *(Route(ISSUE + f"{kind}/", notes, methods=["GET", "POST"]) for kind in ("comments", "notes")),
        *(Route(ISSUE + f"{kind}/{{note_id}}/", note, methods=["PUT", "DELETE"]) for kind in ("comments", "notes")),
        Route("/api/0/issues/{issue_id}/comments/", api(state, "comments", partial(_deprecated, state)),
              methods=["GET", "POST"]),
    ]
