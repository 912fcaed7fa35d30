"""Stand-in for an issue's tag distribution: `/organizations/{org}/issues/{issue_id}/tags/{key}/`.

An issue without that key answers 404, as Sentry does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from standin.app import Standin

NOT_FOUND = {"detail": "The requested resource does not exist"}


def routes(s: Standin) -> list[Route]:
    async def tag(request: Request) -> Response:
        async def handle(request: Request) -> Response:
            issue_id, key = request.path_params["issue_id"], request.path_params["key"]
            found = s.state.extra.get("tags", {}).get(issue_id, {}).get(key)
            if issue_id not in s.state.issues or found is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            return JSONResponse(found)

        return await s.call(request, "tags", handle)

    return [Route("/api/0/organizations/{org}/issues/{issue_id}/tags/{key}/", tag, methods=["GET"])]
