"""The jobs API: list, detail, stats and replay, read from the job status store."""

from __future__ import annotations

import json
import time

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.ops.query import JobQuery, decode_cursor, encode_cursor
from gateway.ops.stats import WINDOW_S, window
from gateway.state import GatewayState
from shared import keys
from shared.jobs import REPLAYABLE_STATES
from shared.replay import replay_dead, replay_job
from shared.sentry.redact import redact_json

LIST_FIELDS = (
    "resource", "action", "issue_id", "installation", "state", "attempts", "received_at", "started_at", "finished_at",
    "coalesced", "coalesced_into", "reason", "error", "replays",
)
STATS_FIELDS = ("resource", "state", "received_at", "finished_at")
SCAN_BUDGET = 2000  # records looked at per page when filters are selective
STATS_SAMPLE = 5000  # newest records the throughput and latency figures are computed from
WORKER_STALE_S = 15.0  # three missed heartbeats: the worker stopped, or lost Redis


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def _typed(row: dict[str, str]) -> dict[str, object]:
    """Hash text back to numbers where the field is numeric (the hash stores text)."""
    out: dict[str, object] = dict(row)
    for name in ("received_at", "started_at", "finished_at"):
        if name in row:
            out[name] = float(row[name])
    for name in ("attempts", "coalesced", "replays"):
        out[name] = int(row.get(name) or 0)
    return out


def bad_request(exc: ValidationError | ValueError) -> Response:
    if isinstance(exc, ValidationError):
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
    else:
        problems = [{"field": "", "problem": str(exc)}]
    return JSONResponse({"error": "invalid query", "problems": problems}, status_code=422)


async def list_jobs(request: Request) -> Response:
    try:
        query = JobQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        return bad_request(exc)
    store = _state(request).store
    if query.organization is not None:  # an organization is known by its installation
        uuid = await _state(request).redis.hget(keys.INSTALLATIONS_BY_ORG, query.organization)  # type: ignore[misc]
        if uuid is None:
            return JSONResponse({"jobs": [], "next_cursor": None})
        query = query.model_copy(update={"installation": uuid.decode()})
    position = decode_cursor(query.cursor) if query.cursor else None
    items: list[dict[str, object]] = []
    looked = 0
    exhausted = False
    while len(items) < query.limit and looked < SCAN_BUDGET:
        batch = await store.scan(query.state, position, min(200, SCAN_BUDGET - looked))
        if not batch:
            exhausted = True
            break
        looked += len(batch)
        rows = {row["id"]: row for row in await store.fields_of((i for _, i in batch), LIST_FIELDS)}
        for score, ident in batch:
            position = (score, ident)
            row = rows.get(ident)
            if row is not None and query.matches(row):
                items.append(_typed(row))
                if len(items) == query.limit:
                    break
        if query.since is not None and query.state is None and position is not None and position[0] < query.since:
            exhausted = True  # the time index is ordered: nothing older can match
            break
    next_cursor = encode_cursor(position) if position is not None and not exhausted else None
    return JSONResponse({"jobs": items, "next_cursor": next_cursor})


async def get_job(request: Request) -> Response:
    record = await _state(request).store.get(request.path_params["job_id"])
    if record is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    body = record.model_dump(mode="json")
    body["duration_s"] = record.duration_s
    if record.payload is not None:  # a job not yet done (or dead) keeps its payload whole: mask it here
        body["payload"] = json.loads(redact_json(record.payload))
    return JSONResponse(body)


async def replay(request: Request) -> Response:
    state = _state(request)
    job_id = request.path_params["job_id"]
    record = await state.store.get(job_id)
    if record is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    if record.state not in REPLAYABLE_STATES:
        return JSONResponse(
            {"error": "not replayable", "detail": f"job is {record.state.value}; only dead or failed jobs replay"},
            status_code=409,
        )
    if not await replay_job(state.store, state.queue, job_id):
        return JSONResponse({"error": "not replayable", "detail": "job changed meanwhile"}, status_code=409)
    return JSONResponse({"id": job_id, "state": "queued"}, status_code=202)


async def replay_all(request: Request) -> Response:
    state = _state(request)
    return JSONResponse({"replayed": await replay_dead(state.store, state.queue)}, status_code=202)


async def stats(request: Request) -> Response:
    state = _state(request)
    now_s = time.time()
    redis = state.redis
    recent = await redis.zrevrangebyscore(keys.JOBS_BY_TIME, "+inf", now_s - WINDOW_S, start=0, num=STATS_SAMPLE)
    ids = [i.decode() if isinstance(i, bytes) else i for i in recent]
    rows = await state.store.fields_of(ids, STATS_FIELDS)
    beats = await redis.hgetall(keys.WORKER_HEARTBEATS)  # type: ignore[misc]
    outages = await redis.hgetall(keys.WORKER_REDIS_OUTAGES)  # type: ignore[misc]
    workers = sorted(
        ({"name": (k.decode() if isinstance(k, bytes) else k), "age_s": round(now_s - float(v), 1),
          "alive": now_s - float(v) < WORKER_STALE_S,
          "last_redis_outage": json.loads(outages[k]) if k in outages else None}
         for k, v in beats.items()),
        key=lambda w: str(w["name"]),
    )
    organizations = await redis.hgetall(keys.INSTALLATIONS_BY_ORG)  # type: ignore[misc]
    return JSONResponse({
        "now": now_s,
        "mode": state.settings.mode,
        "organizations": sorted(k.decode() for k in organizations) if state.settings.mode == "public"
        else [state.settings.organization] if state.settings.organization else [],
        "counts": await state.store.count_by_state(),
        "queue_depth": await state.queue.depth(),
        "dead_letters": int(await redis.zcard(keys.DEAD_LETTER)),
        "spool_depth": state.spool.depth(),
        "workers": workers,
        "last_hour": window(rows, now_s).model_dump(),
        "sampled": len(rows),
    })


async def dead(request: Request) -> Response:
    state = _state(request)
    ids = await state.store.dead_ids(limit=200)
    rows = await state.store.fields_of(ids, LIST_FIELDS)
    return JSONResponse({"jobs": [_typed(r) for r in rows]})
