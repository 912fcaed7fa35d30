"""Real events from the fixtures, and crafted ones for each category and language."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.sentry.models import Event, Issue
from tests.helpers import OPENAPI, load_webhook
from tests.sentry_fake import api_event_example
from worker.analysis.base import AnalysisContext
from worker.rules import Rules

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ORG_ISSUE = "/api/0/organizations/{organization_id_or_slug}/issues/{issue_id}/"


def api_issue_example() -> dict[str, Any]:
    schema = json.loads(OPENAPI.read_text())
    content = schema["paths"][ORG_ISSUE]["get"]["responses"]["200"]["content"]["application/json"]
    value: dict[str, Any] = next(iter(content["examples"].values()))["value"]
    return value


def real_contexts() -> dict[str, AnalysisContext]:
    """The schema's API event (JavaScript, camelCase) and the webhooks' raw events (snake_case)."""
    issue = Issue.model_validate(api_issue_example())
    webhook_issue = Issue.model_validate(load_webhook("issue.created")["data"]["issue"])
    error = Event.model_validate(load_webhook("error.created")["data"]["error"])
    alert = Event.model_validate(load_webhook("event_alert.triggered")["data"]["event"])
    options = Rules.default().options()
    return {
        "api_event": AnalysisContext("issue", "created", issue, Event.model_validate(api_event_example()), NOW, options),
        "error_created": AnalysisContext("error", "created", webhook_issue, error, NOW, options),
        "event_alert": AnalysisContext("event_alert", "triggered", webhook_issue, alert, NOW, options),
    }


def frame(platform: str, path: str, function: str, line: int, in_app: bool = True, context: str = "") -> dict[str, Any]:
    if platform == "java":
        return {"module": path, "function": function, "filename": path.rsplit(".", 1)[-1] + ".java",
                "lineNo": line, "inApp": in_app, "context": [[line, context]] if context else []}
    if platform == "javascript":
        return {"filename": path, "absPath": "https://app.example.com/" + path, "function": function,
                "lineNo": line, "colNo": 7, "inApp": in_app, "context": [[line, context]]}
    return {"filename": path, "absPath": "/srv/app/" + path, "module": path.replace("/", ".").removesuffix(".py"),
            "function": function, "lineNo": line, "inApp": in_app, "context": [[line, context]]}


def crafted(platform: str, exc_type: str, value: str, frames: list[dict[str, Any]], chain: list[tuple[str, str]] = ()) -> Event:  # type: ignore[assignment]
    values = [{"type": t, "value": v, "stacktrace": {"frames": []}} for t, v in chain]
    values.append({"type": exc_type, "value": value, "stacktrace": {"frames": frames}, "mechanism": {"type": "generic", "handled": False}})
    return Event.model_validate({
        "eventID": "e" * 32, "groupID": "77", "title": f"{exc_type}: {value}", "platform": platform,
        "entries": [{"type": "exception", "data": {"values": values}}],
        "tags": [{"key": "environment", "value": "production"}, {"key": "level", "value": "error"}],
    })


def context_for(event: Event, **issue: Any) -> AnalysisContext:
    base = {"id": "77", "title": event.title, "level": "error", "count": "5", "userCount": 1,
            "firstSeen": "2026-11-24T11:00:00Z", "lastSeen": "2026-11-24T11:30:00Z",
            "project": {"slug": "backend"}}
    return AnalysisContext("issue", "created", Issue.model_validate(base | issue), event, NOW, Rules.default().options())


PY_DB = crafted("python", "OperationalError", "could not connect to server: Connection refused", [
    frame("python", "django/db/backends/base.py", "connect", 200, False),
    frame("python", "app/orders/views.py", "create_order", 42, True, "order = Order.objects.create(**data)"),
][::-1][::-1], chain=[("ConnectionRefusedError", "[Errno 111] Connection refused")])

CASES: dict[str, tuple[str, Event]] = {
    "network/timeout": ("python", crafted("python", "ReadTimeout", "HTTPSConnectionPool(host='api.stripe.com'): Read timed out.", [
        frame("python", "app/billing/charge.py", "charge", 18, True, "resp = requests.post(url, timeout=5)"),
        frame("python", "requests/adapters.py", "send", 532, False)])),
    "database": ("python", PY_DB),
    "permission/auth": ("java", crafted("java", "org.springframework.security.access.AccessDeniedException", "Access is denied", [
        frame("java", "com.example.admin.AdminController", "deleteUser", 88, True, "service.delete(id);")])),
    "validation/bad input": ("javascript", crafted("javascript", "SyntaxError", "Unexpected token < in JSON at position 0", [
        frame("javascript", "src/api/client.js", "parseResponse", 12, True, "return JSON.parse(text);")])),
    "out of memory/resource": ("java", crafted("java", "java.lang.OutOfMemoryError", "Java heap space", [
        frame("java", "com.example.reports.ReportBuilder", "build", 301, True, "rows.add(row);")])),
    "configuration": ("python", crafted("python", "ImproperlyConfigured", "The SECRET_KEY setting must not be empty.", [
        frame("python", "app/settings.py", "<module>", 9, True, "SECRET_KEY = env('SECRET_KEY')")])),
    "dependency": ("javascript", crafted("javascript", "ChunkLoadError", "Loading chunk 42 failed.", [
        frame("javascript", "webpack/runtime/jsonp.js", "onScriptComplete", 40, False)])),
    "code defect": ("java", crafted("java", "java.lang.NullPointerException", "Cannot invoke \"User.getName()\" because \"user\" is null", [
        frame("java", "com.example.users.UserService", "greet", 27, True, "return user.getName();"),
        frame("java", "com.example.web.Controller", "hello", 12, True)][::-1])),
}
