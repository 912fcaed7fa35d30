"""The stand-in's organization issue listing, as Sentry pages it, and a generator of many issues.

`GET /api/0/organizations/{org}/issues/` takes `project` (slugs or ids, repeated), `query` (`is:`
status terms; other words must appear in the title; default `is:unresolved`, empty for all),
`statsPeriod` (last seen within), `limit` (at most 100) and `cursor`, answers newest-seen first
with Sentry's `Link` header (`<url>; rel="next"; results="true"; cursor="0:100:0"`) and `X-Hits`.
`POST /_standin/generate` adds `count` varied issues (projects, levels, titles, counts, an event
each) for backtests and paging tests.
"""

from __future__ import annotations

import copy
import random
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from standin import search_terms

if TYPE_CHECKING:
    from standin.app import Standin

MAX_LIMIT = 100
PERIOD = re.compile(r"^(\d+)([smhdw])$")
UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
STATUS_TERMS = {"unresolved", "resolved", "ignored", "archived"}
TITLES = [
    ("OperationalError", "could not connect to server: Connection refused", "app/db/pool.py"),
    ("TimeoutError", "Read timed out. (read timeout=10) partner_api", "app/partners/partner_api.py"),
    ("KeyError", "'customer_id'", "app/billing/invoice.py"),
    ("TypeError", "Cannot read properties of undefined (reading 'map')", "src/components/List.tsx"),
    ("ValueError", "health check failed", "app/health/check.py"),
    ("CardError", "Your card was declined. api.stripe.com", "app/billing/stripe_client.py"),
]
PROJECTS = ["backend", "billing-api", "web", "payments"]
LEVELS = ["error", "error", "fatal", "warning"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def period_s(value: str) -> int | None:
    match = PERIOD.match(value)
    return int(match[1]) * UNITS_S[match[2]] if match else None


def _status_of(issue: dict[str, Any]) -> str:
    return "archived" if issue.get("status") == "ignored" else str(issue.get("status"))


def matches_query(issue: dict[str, Any], query: str) -> bool:
    for term in query.split():
        if term.startswith("firstSeen:"):
            if not search_terms.matches(issue, term):
                return False
        elif term.startswith("is:"):
            wanted = term[3:]
            if _status_of(issue) != wanted and issue.get("status") != wanted:
                return False
        elif term.lower() not in str(issue.get("title", "")).lower():
            return False
    return True


def _seen_s(issue: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(issue.get("lastSeen")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def bad(detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=400)


async def list_org_issues(standin: Standin, request: Request) -> Response:
    async def handle(request: Request) -> Response:
        params = request.query_params
        query = params.get("query", "is:unresolved")
        for term in query.split():
            if term.startswith("is:") and term[3:] not in STATUS_TERMS:
                return bad(f"Error parsing search query: invalid status value of '{term[3:]}'")
        projects = params.getlist("project")
        period = params.get("statsPeriod")
        since = period_s(period) if period else None
        if period and since is None:
            return bad("Invalid statsPeriod")
        try:
            limit = int(params.get("limit", str(MAX_LIMIT)))
            offset = int(params.get("cursor", "0:0:0").split(":")[1])
        except (IndexError, ValueError):
            return bad("Invalid cursor parameter.")
        if not 1 <= limit <= MAX_LIMIT:
            return bad(f"limit must be between 1 and {MAX_LIMIT}")
        now_s = standin.state.now()
        items = [
            i for i in standin.state.issues.values()
            if (not projects or {str(i["project"].get("slug")), str(i["project"].get("id"))} & set(projects))
            and matches_query(i, query) and (since is None or _seen_s(i) >= now_s - since)
        ]
        items.sort(key=lambda i: (_seen_s(i), i["id"]), reverse=True)
        page = items[offset: offset + limit]
        more = offset + limit < len(items)
        base = str(request.url.replace(query=""))
        previous = f"0:{max(offset - limit, 0)}:1"
        link = (f'<{base}>; rel="previous"; results="{str(offset > 0).lower()}"; cursor="{previous}", '
                f'<{base}>; rel="next"; results="{str(more).lower()}"; cursor="0:{offset + limit}:0"')
        return JSONResponse(page, headers={"Link": link, "X-Hits": str(len(items))})

    return await standin.call(request, "issues", handle)


def generated_issue(template: dict[str, Any], event: dict[str, Any] | None, n: int, rng: random.Random,
                    now: datetime) -> tuple[dict[str, Any], dict[str, Any] | None]:
    kind, message, path = TITLES[n % len(TITLES)]
    project = PROJECTS[rng.randrange(len(PROJECTS))]
    seen = now - timedelta(minutes=rng.randrange(60 * 24 * 20))
    issue = copy.deepcopy(template) | {
        "id": str(n), "shortId": f"{project.upper()}-{n}", "title": f"{kind}: {message}", "culprit": path,
        "level": LEVELS[rng.randrange(len(LEVELS))], "count": str(rng.choice([1, 5, 40, 150, 2000])),
        "userCount": rng.choice([0, 1, 3, 12, 80]), "status": "resolved" if n % 10 == 9 else "unresolved",
        "substatus": None if n % 10 == 9 else "ongoing", "statusDetails": {}, "assignedTo": None,
        "project": {"id": str(PROJECTS.index(project) + 10), "slug": project, "name": project},
        "firstSeen": _iso(seen - timedelta(days=1)), "lastSeen": _iso(seen),
        "permalink": f"https://sentry.io/organizations/demo-org/issues/{n}/",
    }
    if event is None:
        return issue, None
    generated = copy.deepcopy(event) | {"groupID": str(n), "title": issue["title"], "culprit": path,
                                        "id": f"{n:032x}", "eventID": f"{n:032x}"}
    generated["entries"] = [{"type": "exception", "data": {"values": [{
        "type": kind, "value": message, "module": path.replace("/", ".")[:-3],
        "stacktrace": {"frames": [{"filename": path, "absPath": path, "function": "handle", "lineNo": 10 + n % 50,
                                   "inApp": True, "module": path.replace("/", ".")[:-3]}]},
    }]}}]
    env = "staging" if "health" in message else "production"
    generated["tags"] = [{"key": "environment", "value": env}, {"key": "level", "value": issue["level"]}]
    return issue, generated


async def generate(standin: Standin, request: Request) -> Response:
    """Add `count` issues with ids from `start` (default 100000), each with a latest event."""
    spec = await request.json()
    start, count = int(spec.get("start", 100_000)), int(spec["count"])
    template_id = str(spec.get("from", "4001"))
    template = standin.state.issues[template_id]
    event = standin.state.events.get(template_id)
    rng = random.Random(int(spec.get("seed", 22)))
    now = datetime.now(UTC)
    for n in range(start, start + count):
        issue, generated = generated_issue(template, event, n, rng, now)
        standin.state.issues[issue["id"]] = issue
        if generated is not None:
            standin.state.events[issue["id"]] = generated
    return JSONResponse({"issues": len(standin.state.issues)})
