"""The ceiling: a bare Starlette endpoint that only answers 202, served exactly as the gateway is."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def accept(request: Request) -> Response:
    await request.body()
    return JSONResponse({"status": "queued"}, status_code=202)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def app() -> Starlette:
    return Starlette(routes=[Route("/webhooks/sentry", accept, methods=["POST"]), Route("/healthz", healthz)])
