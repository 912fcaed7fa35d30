"""Stand-in for a release's details, its deploys and the files its commits changed (issue 21).

Sentry's paths: `/organizations/{org}/releases/{version}/`, `.../deploys/`, `.../commitfiles/`.
With `?project=`, Sentry fills `currentProjectMeta` (the previous release); without it, empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from standin.app import Standin

NOT_FOUND = {"detail": "The requested resource does not exist"}
BASE = "/api/0/organizations/{org}/releases/{version}/"


def _release(s: Standin, request: Request) -> dict[str, Any] | None:
    found: dict[str, Any] | None = s.state.extra.get("releases", {}).get(request.path_params["version"])
    return found


def routes(s: Standin) -> list[Route]:
    async def details(request: Request) -> Response:
        async def handle(request: Request) -> Response:
            release = _release(s, request)
            if release is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            project = request.query_params.get("project")
            ids = {str(p.get("id")) for p in release["projects"]} | {p.get("slug") for p in release["projects"]}
            meta = release["currentProjectMeta"] if project in ids else {}
            return JSONResponse(release | {"currentProjectMeta": meta})

        return await s.call(request, "release", handle)

    async def deploys(request: Request) -> Response:
        async def handle(request: Request) -> Response:
            release = _release(s, request)
            if release is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            return JSONResponse([release["lastDeploy"]] if release.get("lastDeploy") else [])

        return await s.call(request, "deploys", handle)

    async def commit_files(request: Request) -> Response:
        async def handle(request: Request) -> Response:
            if _release(s, request) is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            files = s.state.extra.get("commitfiles", {}).get(request.path_params["version"], [])
            return JSONResponse(files)

        return await s.call(request, "commitfiles", handle)

    return [
        Route(BASE, details, methods=["GET"]),
        Route(BASE + "deploys/", deploys, methods=["GET"]),
        Route(BASE + "commitfiles/", commit_files, methods=["GET"]),
    ]
