"""What happened just before: the last breadcrumbs, the request's method and route, the trace id.

All from the event already fetched (API entries or the raw webhook event's fields), no extra call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shared.sentry.models import Event
from worker.analysis.base import AnalysisContext, Finding

LAST_BREADCRUMBS = 4


def _time(value: object) -> str | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%H:%M:%S")
    if isinstance(value, str) and "T" in value:
        return value.split("T", 1)[1][:8]
    return None


def describe_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    data = crumb.get("data") if isinstance(crumb.get("data"), dict) else {}
    assert isinstance(data, dict)
    text = crumb.get("message")
    if not text and data.get("url"):
        text = " ".join(str(p) for p in (data.get("method"), data.get("url"), data.get("status_code")) if p)
    if not text and data.get("to"):
        text = f"{data.get('from', '?')} -> {data['to']}"
    return {"at": _time(crumb.get("timestamp")), "category": crumb.get("category") or crumb.get("type") or "",
            "text": str(text or ""), "level": crumb.get("level")}


def breadcrumbs(event: Event) -> list[dict[str, Any]]:
    values = event.entry("breadcrumbs").get("values")
    if not isinstance(values, list):
        return []
    crumbs = [describe_breadcrumb(c) for c in values if isinstance(c, dict)]
    return [c for c in crumbs if c["text"]][-LAST_BREADCRUMBS:]


def request_line(event: Event) -> dict[str, Any] | None:
    request = event.entry("request")
    url = request.get("url")
    transaction = event.tag("transaction")
    if not url and not transaction:
        return None
    route = transaction or urlsplit(str(url)).path or str(url)
    method = request.get("method")
    if method and route.startswith(f"{method} "):  # a transaction name that carries the method
        method = None
    return {"method": method, "route": route}


def trace_id(event: Event) -> str | None:
    trace = event.contexts.get("trace")
    value = trace.get("trace_id") if isinstance(trace, dict) else None
    return str(value) if value else event.tag("trace")


def what_happened_before(ctx: AnalysisContext) -> Finding | None:
    if ctx.event is None:
        return None
    crumbs, request, trace = breadcrumbs(ctx.event), request_line(ctx.event), trace_id(ctx.event)
    if not crumbs and request is None and trace is None:
        return None
    parts = []
    if request:
        parts.append(" ".join(p for p in (request["method"], request["route"]) if p))
    if crumbs:
        parts.append(f"{len(crumbs)} breadcrumbs")
    return Finding(
        handler="before", summary=", ".join(parts) or f"trace {trace}",
        data={"breadcrumbs": crumbs, "request": request, "trace_id": trace},
        source="latest event: breadcrumbs, request, contexts.trace",
    )
