"""The ops routes, each behind the dashboard's access check (gateway/ops/auth.py)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.ops import api
from gateway.ops.auth import protected
from gateway.ops.dashboard import login, logout, page

STATIC = Path(__file__).resolve().parent / "static"


def ops_routes() -> list[BaseRoute]:
    return [
        Route("/", page),  # checks access itself: a sign-in form when a token is needed
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/jobs", protected(api.list_jobs)),
        Route("/api/jobs/{job_id}", protected(api.get_job)),
        Route("/api/jobs/{job_id}/replay", protected(api.replay), methods=["POST"]),
        Route("/api/dead", protected(api.dead)),
        Route("/api/dead/replay", protected(api.replay_all), methods=["POST"]),
        Route("/api/stats", protected(api.stats)),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
