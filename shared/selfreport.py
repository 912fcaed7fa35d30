"""The responder reports its own errors and performance to Sentry, with Sentry's SDK.

Off unless `RESPONDER_SENTRY_DSN` is set. The gateway gets the Starlette integration (a transaction
per request, unhandled exceptions), the worker the arq integration (a transaction per job); httpx
and Redis calls become spans on their own (the SDK's default integrations). Failed and dead jobs
are captured explicitly (the job catches its exceptions to record them). Structlog lines become
breadcrumbs. Nothing sensitive leaves: no local variables, no request bodies, cookies or auth
headers, and `before_send` masks every string of the event the way comments are masked
(shared/sentry/redact.py) and removes the process's own secrets. The DSN's own project is skipped
by the worker, so the responder never comments on its own errors in a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

import structlog
from structlog.types import EventDict, WrappedLogger

from shared.jobs import Delivery
from shared.logging import SecretScrubber
from shared.sentry.redact import redact
from shared.settings import Settings
from shared.version import package_version

Component = Literal["gateway", "worker"]
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "sentry-hook-signature",
                               "sentry-app-signature", "x-sentry-auth", "idempotency-key"})
MAX_BREADCRUMB_VALUE = 200


def own_project_id(dsn: str | None) -> str | None:
    """The project a DSN reports to: the last segment of its path."""
    if not dsn:
        return None
    path = urlsplit(dsn).path.rstrip("/")
    project = path.rsplit("/", 1)[-1]
    return project if project.isdigit() else None


def delivery_project_id(delivery: Delivery) -> str | None:
    """The project a delivery is about, as its payload names it (issue, error or alert event)."""
    data = delivery.body.get("data") or {}
    issue = data.get("issue") if isinstance(data, dict) else None
    if isinstance(issue, dict) and isinstance(issue.get("project"), dict):
        return str(issue["project"].get("id") or "") or None
    for name in ("error", "event"):
        event = data.get(name) if isinstance(data, dict) else None
        if isinstance(event, dict) and event.get("project") is not None:
            return str(event["project"])
    return None


def is_own_project(settings: Settings, delivery: Delivery) -> bool:
    if not settings.skip_own_project or settings.sentry_dsn is None:
        return False
    own = own_project_id(settings.sentry_dsn.get_secret_value())
    return own is not None and delivery_project_id(delivery) == own


def scrub(value: Any, scrubber: SecretScrubber) -> Any:
    """Every string in an event, masked like a comment and stripped of the process's secrets."""
    if isinstance(value, str):
        return scrubber.scrub(redact(value))
    if isinstance(value, dict):
        return {k: scrub(v, scrubber) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, scrubber) for v in value]
    return value


def make_before_send(secrets: Iterable[str]) -> Callable[[dict[str, Any], Any], dict[str, Any] | None]:
    scrubber = SecretScrubber(secrets)

    def before_send(event: dict[str, Any], _hint: Any) -> dict[str, Any] | None:
        request = event.get("request")
        if isinstance(request, dict):
            request.pop("data", None)
            request.pop("cookies", None)
            headers = request.get("headers")
            if isinstance(headers, dict):
                request["headers"] = {k: v for k, v in headers.items() if k.lower() not in SENSITIVE_HEADERS}
        for exception in (event.get("exception") or {}).get("values") or []:
            for frame in (exception.get("stacktrace") or {}).get("frames") or []:
                frame.pop("vars", None)
        scrubbed: dict[str, Any] = scrub(event, scrubber)
        return scrubbed

    return before_send


def breadcrumbs(_logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: each log line (already scrubbed) becomes a breadcrumb."""
    import sentry_sdk

    data = {k: str(v)[:MAX_BREADCRUMB_VALUE] for k, v in event_dict.items()
            if k not in ("event", "level", "logger", "timestamp")}
    sentry_sdk.add_breadcrumb(category=str(event_dict.get("logger") or "log"), message=str(event_dict.get("event")),
                              level=name if name in ("debug", "info", "warning", "error") else "info", data=data)
    return event_dict


def add_breadcrumb_processor() -> None:
    """Put `breadcrumbs` just before the renderer, after the secret scrubber."""
    processors = list(structlog.get_config()["processors"])
    if breadcrumbs not in processors:
        structlog.configure(processors=[*processors[:-1], breadcrumbs, processors[-1]])


def init_self_reporting(settings: Settings, component: Component) -> bool:
    """Start the SDK when a DSN is set; True when it did."""
    if settings.sentry_dsn is None:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.arq import ArqIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    before_send = make_before_send(settings.secret_values())
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        release=f"sentry-responder@{package_version()}",
        environment=settings.sentry_environment,
        sample_rate=settings.sentry_sample_rate,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=before_send,  # type: ignore[arg-type]
        before_send_transaction=before_send,  # type: ignore[arg-type]
        integrations=[
            StarletteIntegration(), ArqIntegration(),
            LoggingIntegration(level=None, event_level=None),  # breadcrumbs come from structlog instead
        ],
    )
    sentry_sdk.set_tag("component", component)
    add_breadcrumb_processor()
    return True


def name_job_transaction(delivery: Delivery) -> None:
    """The arq integration opens a transaction per job; give it the job's name and the delivery."""
    import sentry_sdk

    if not sentry_sdk.get_client().is_active():
        return  # no DSN: nothing to name
    scope = sentry_sdk.get_current_scope()
    scope.set_transaction_name("process_delivery")
    scope.set_tag("job.resource", delivery.resource)
    scope.set_context("job", {"id": delivery.id, "issue_id": delivery.issue_id, "action": delivery.action})


def report_failed_job(exc: BaseException, delivery: Delivery, state: str) -> None:
    """A job that failed for good (failed or dead): one event, tagged, no payload."""
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        scope.set_tag("job.state", state)
        scope.set_tag("job.resource", delivery.resource)
        scope.set_context("job", {"id": delivery.id, "issue_id": delivery.issue_id, "action": delivery.action})
        sentry_sdk.capture_exception(exc)
