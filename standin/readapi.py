"""The stand-in's read endpoints for the responder's read API: projects, stats_v2, event-id lookup
and the errors dataset of Explore (`user.id:` searches), derived from the seeded issues and events.

Refuses what Sentry refuses on these paths: stats_v2 without `field` or `groupBy`, events without
`field` or `dataset`, an unknown project or event id (404).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from standin.guard import Standin

NOT_FOUND = {"detail": "The requested resource does not exist"}
USER_ID = re.compile(r'user\.id:(?:"((?:[^"\\]|\\.)*)"|(\S+))')
PERIOD_DAYS = {"24h": 1, "1d": 1, "7d": 7, "14d": 14, "30d": 30, "90d": 90}


def projects_of(s: Standin) -> dict[str, dict[str, Any]]:
    """slug -> project, from the seeded issues; an id two slugs share is given to the first only."""
    out: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    for issue in s.state.issues.values():
        ref = issue.get("project") or {}
        slug = ref.get("slug")
        if not slug or slug in out:
            continue
        ident = str(ref.get("id") or "")
        if not ident or ident in taken:
            ident = str(100 + len(out))
        taken.add(ident)
        out[slug] = {"id": ident, "slug": slug, "name": ref.get("name") or slug, "platform": ref.get("platform")}
    return out


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_routes(s: Standin) -> list[Route]:
    def bad(detail: str) -> Response:
        return JSONResponse({"detail": detail}, status_code=400)

    async def projects(request: Request) -> Response:
        async def handle(_request: Request) -> Response:
            return JSONResponse(list(projects_of(s).values()))

        return await s.call(request, "projects", handle)

    async def project(request: Request) -> Response:
        async def handle(request: Request) -> Response:
            found = projects_of(s).get(request.path_params["project"])
            return JSONResponse(found) if found else JSONResponse(NOT_FOUND, status_code=404)

        return await s.call(request, "project", handle)

    async def stats_v2(request: Request) -> Response:
        async def handle(request: Request) -> Response:
            params = request.query_params
            if not params.getlist("groupBy") or params.get("field") not in ("sum(quantity)", "sum(times_seen)"):
                return bad("At least one groupBy and a valid field are required.")
            period = params.get("statsPeriod", "24h")
            if period not in PERIOD_DAYS:
                return bad(f"Invalid statsPeriod: {period}")
            wanted = set(params.getlist("project"))
            slugs = {p["slug"] for p in projects_of(s).values() if not wanted or p["id"] in wanted or "-1" in wanted}
            total = sum(int(i.get("count") or 0) for i in s.state.issues.values()
                        if (i.get("project") or {}).get("slug") in slugs) * PERIOD_DAYS[period]
            outcomes = {"accepted": total, "filtered": total // 10, "rate_limited": total // 20, "invalid": total // 50}
            groups = [{"by": {"outcome": o}, "totals": {"sum(quantity)": n}, "series": {"sum(quantity)": [n]}}
                      for o, n in outcomes.items()]
            return JSONResponse({"start": "2026-11-24T00:00:00Z", "end": "2026-11-25T00:00:00Z",
                                 "intervals": ["2026-11-24T00:00:00Z"], "groups": groups})

        return await s.call(request, "stats_v2", handle)

    def event_by_id(event_id: str) -> tuple[str, dict[str, Any]] | None:
        for issue_id, event in s.state.events.items():
            if event_id in (event.get("eventID"), event.get("id")):
                return issue_id, event
        return None

    async def eventids(request: Request) -> Response:
        async def handle(request: Request) -> Response:
            found = event_by_id(request.path_params["event_id"])
            if found is None:
                return JSONResponse(NOT_FOUND, status_code=404)
            issue_id, event = found
            slug = (s.state.issues.get(issue_id, {}).get("project") or {}).get("slug")
            return JSONResponse({"organizationSlug": s.state.organization, "projectSlug": slug,
                                 "groupId": issue_id, "eventId": event.get("eventID"), "event": event})

        return await s.call(request, "eventids", handle)

    def row(issue_id: str, event: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        issue = s.state.issues.get(issue_id, {})
        tags = [t for t in event.get("tags") or [] if isinstance(t, dict)]
        level = next((t.get("value") for t in tags if t.get("key") == "level"), issue.get("level"))
        known = {"id": event.get("eventID"), "title": event.get("title"), "timestamp": event.get("dateCreated"),
                 "issue.id": int(issue_id) if issue_id.isdigit() else issue_id, "level": level,
                 "project": (issue.get("project") or {}).get("slug"),
                 "user.id": (event.get("user") or {}).get("id")}
        return {f: known.get(f) for f in fields}

    async def events(request: Request) -> Response:
        async def handle(request: Request) -> Response:
            params = request.query_params
            fields = params.getlist("field")
            if not fields or params.get("dataset") is None:
                return bad("You must include at least one field and a dataset.")
            if params["dataset"] != "errors":
                return bad("The stand-in serves only the errors dataset.")
            match = USER_ID.search(params.get("query", ""))
            start, end = _when(params.get("start")), _when(params.get("end"))
            rows = []
            for issue_id, event in s.state.events.items():
                user = str((event.get("user") or {}).get("id") or "")
                when = _when(event.get("dateCreated"))
                if match and user != (match[1] if match[1] is not None else match[2]).replace('\\"', '"'):
                    continue
                if when is None or (start and when < start) or (end and when > end):
                    continue
                rows.append(row(issue_id, event, fields))
            rows.sort(key=lambda r: str(r.get("timestamp") or ""), reverse=params.get("sort", "").startswith("-"))
            return JSONResponse({"data": rows, "meta": {"fields": {f: "string" for f in fields}}})

        return await s.call(request, "events", handle)

    return [
        Route("/api/0/organizations/{org}/projects/", projects, methods=["GET"]),
        Route("/api/0/projects/{org}/{project}/", project, methods=["GET"]),
        Route("/api/0/organizations/{org}/stats_v2/", stats_v2, methods=["GET"]),
        Route("/api/0/organizations/{org}/eventids/{event_id}/", eventids, methods=["GET"]),
        Route("/api/0/organizations/{org}/events/", events, methods=["GET"]),
    ]
