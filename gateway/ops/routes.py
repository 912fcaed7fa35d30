"""The ops routes, each behind the dashboard's access check (gateway/ops/auth.py)."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.ops import api, trust
from gateway.ops.auth import protected
from gateway.ops.dashboard import login, logout, page

STATIC = Path(__file__).resolve().parent / "static"


def trust_routes() -> list[BaseRoute]:
    """Issue 22: audit trail, undo, playbook counters, past backtests."""
    return [
        Route("/api/issues/{issue_id}", protected(trust.issue_trail)),
        Route("/api/jobs/{job_id}/undo", protected(trust.undo_job), methods=["POST"]),
        Route("/api/playbooks", protected(trust.playbooks)),
        Route("/api/backtests", protected(trust.backtests)),
        Route("/api/backtests/{backtest_id}", protected(trust.backtest_report)),
    ]


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
        *trust_routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
