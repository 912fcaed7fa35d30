"""The trust routes: an issue's audit trail, undo of a job's write-back, playbook counters and
past backtests. Undo goes to Sentry directly (shared/undo.py says why), with the shared budget."""

from __future__ import annotations

import json
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.state import GatewayState
from shared import keys
from shared.audit import read_audit
from shared.sentry.errors import SentryError
from shared.sentry_access import client_for
from shared.settings import SettingsError
from shared.undo import UndoRefused, load_undo, undo_write

ISSUE_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
ACTOR = re.compile(r"^[\w .@+-]{1,64}$")


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


async def issue_trail(request: Request) -> Response:
    issue_id = request.path_params["issue_id"]
    if not ISSUE_ID.match(issue_id):
        return JSONResponse({"error": "invalid issue id"}, status_code=422)
    entries = await read_audit(_state(request).redis, issue_id)
    web_url = next((e.data["web_url"] for e in reversed(entries) if e.data.get("web_url")), None)
    return JSONResponse({"issue_id": issue_id, "web_url": web_url,
                         "entries": [e.model_dump(mode="json") for e in entries]})


async def _actor(request: Request) -> str | None:
    """Who undoes: "dashboard", or "dashboard user <name>" when the page names one."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    name = body.get("by") if isinstance(body, dict) else None
    if name is None:
        return "dashboard"
    return f"dashboard user {name}" if isinstance(name, str) and ACTOR.match(name) else None


async def undo_job(request: Request) -> Response:
    state = _state(request)
    job_id = request.path_params["job_id"]
    by = await _actor(request)
    if by is None:
        return JSONResponse({"error": "invalid body", "detail": 'send {"by": "<name>"} or nothing'}, 422)
    record = await load_undo(state.redis, job_id)
    if record is None:
        detail = "no automated status change or assignment is recorded for this job"
        return JSONResponse({"error": "nothing_to_undo", "detail": detail}, status_code=404)
    try:
        async with client_for(state.settings, state.redis, record.organization, record.installation,
                              state.sentry_transport) as client:
            result = await undo_write(state.redis, client, job_id, by)
    except UndoRefused as exc:
        return JSONResponse(exc.body(), status_code=exc.status)
    except SettingsError as exc:
        return JSONResponse({"error": "not_configured", "detail": str(exc)}, status_code=409)
    except SentryError as exc:
        return JSONResponse({"error": "sentry_error", "detail": f"{exc.method} {exc.path}: {exc.status}"}, 502)
    return JSONResponse({"id": job_id, "undone_by": by, "restored": result.restored,
                         "comment_edited": result.comment is not None})


async def playbooks(request: Request) -> Response:
    redis = _state(request).redis
    names = [_text(n) or "" for n in await redis.zrevrange(keys.PLAYBOOKS, 0, 199)]
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(keys.playbook_stats(name))
        rows = await pipe.execute()
    out = []
    for name, row in zip(names, rows, strict=True):
        fields = {_text(k) or "": _text(v) or "" for k, v in row.items()}
        out.append({
            "name": name, "mode": fields.get("mode", "live"), "fired": int(fields.get("fired", 0)),
            "last_at": float(fields.get("last_at", 0)),
            "did": {k[4:]: int(v) for k, v in fields.items() if k.startswith("did:")},
            "would": {k[6:]: int(v) for k, v in fields.items() if k.startswith("would:")},
        })
    return JSONResponse({"playbooks": out})


BACKTEST_FIELDS = ("rules", "state", "started_at", "updated_at", "issues", "matched", "pages", "params")


async def backtests(request: Request) -> Response:
    """Past backtests, newest first: their parameters and totals (the report is in the CLI's output)."""
    redis = _state(request).redis
    ids = [_text(i) or "" for i in await redis.zrevrange(keys.BACKTESTS, 0, 49)]
    async with redis.pipeline(transaction=False) as pipe:
        for ident in ids:
            pipe.hmget(keys.backtest(ident), list(BACKTEST_FIELDS))
        rows = await pipe.execute()
    out = []
    for ident, values in zip(ids, rows, strict=True):
        row = dict(zip(BACKTEST_FIELDS, (_text(v) for v in values), strict=True))
        if row["state"] is None:
            continue  # expired meanwhile
        out.append({
            "id": ident, "rules": row["rules"], "state": row["state"],
            "started_at": float(row["started_at"] or 0), "updated_at": float(row["updated_at"] or 0),
            "issues": int(row["issues"] or 0), "matched": int(row["matched"] or 0), "pages": int(row["pages"] or 0),
            "params": json.loads(row["params"] or "{}"),
        })
    return JSONResponse({"backtests": out})


async def backtest_report(request: Request) -> Response:
    """One backtest's whole report (what the CLI prints with --json)."""
    raw = await _state(request).redis.hget(keys.backtest(request.path_params["backtest_id"]), "state_json")  # type: ignore[misc]
    if raw is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    state = json.loads(raw)
    state["params"].pop("rules_digest", None)
    return JSONResponse(state)
