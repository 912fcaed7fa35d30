"""POST /webhooks/sentry: read within the size limit, verify, validate, enqueue, answer 202."""

from __future__ import annotations

import asyncio
import time

import orjson
import structlog
from redis.exceptions import RedisError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from gateway.body import BodyBudgetSpent, BodyTooLarge, read_body
from gateway.intake import Rejection, take
from gateway.spool import SpoolFull
from gateway.state import GatewayState
from shared.queue import Intake, Taken
from shared.webhooks import bounded_resource

log = structlog.get_logger("gateway.webhook")


def reject(state: GatewayState, resource: str, rejection: Rejection, close: bool = False) -> Response:
    """`close`: the body was not read to its end, so the connection cannot carry another request."""
    state.metrics.webhooks.labels(bounded_resource(resource), rejection.error).inc()
    if rejection.status == 401:
        state.metrics.signature_failures.labels(rejection.error).inc()
    log.info("webhook_rejected", status=rejection.status, error=rejection.error)
    headers = {"Sentry-Hook-Error": rejection.error}
    if close:
        headers["Connection"] = "close"
    return JSONResponse(rejection.body(), status_code=rejection.status, headers=headers)


def header_map(request: Request) -> dict[str, str]:
    """The headers as a plain dict (lowercase names, first value wins), read once per request."""
    headers: dict[str, str] = {}
    for name, value in request.scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


async def receive_webhook(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    settings = state.settings
    headers = header_map(request)
    resource = headers.get("sentry-hook-resource", "unknown")[:64]
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=headers.get("request-id", "")[:64])
    try:
        async with asyncio.timeout(settings.body_timeout_s):
            body = await read_body(request, headers, settings.max_body_bytes, state.body_budget)
    except BodyTooLarge:
        limit = settings.max_body_bytes
        return reject(state, resource, Rejection(413, "body_too_large", f"limit is {limit} bytes"), close=True)
    except TimeoutError:
        detail = f"the body did not arrive within {settings.body_timeout_s:g} s"
        return reject(state, resource, Rejection(408, "body_timeout", detail), close=True)
    except BodyBudgetSpent:
        detail = "too many large uploads in flight; retry later"
        response = reject(state, resource, Rejection(503, "busy", detail), close=True)
        response.headers["Retry-After"] = "5"
        return response
    except ClientDisconnect:
        return Response(status_code=400)
    outcome = take(
        body, headers, state.secrets, time.time(), settings.timestamp_tolerance_s,
        settings.legacy_signature_any_resource,
    )
    if isinstance(outcome, Rejection):
        return reject(state, resource, outcome)
    return await enqueue(state, outcome)


async def enqueue(state: GatewayState, intake: Intake) -> Response:
    """Into Redis within the budget; else into the durable spool; 503 only if both fail."""
    started = time.perf_counter()
    if not state.redis_down:
        try:
            async with asyncio.timeout(state.settings.enqueue_timeout_s):
                taken = await state.batcher.submit(intake)
        except (RedisError, OSError, TimeoutError) as exc:
            state.redis_down = True  # until the drain task sees it back: spool without waiting
            log.warning("enqueue_failed", error=type(exc).__name__)
        else:
            state.metrics.enqueue_seconds.observe(time.perf_counter() - started)
            return accepted(state, intake, taken)
    return await spool(state, intake)


def accepted(state: GatewayState, intake: Intake, taken: Taken) -> Response:
    delivery = intake.delivery
    if not taken.new:
        status = "duplicate"
    elif taken.coalesced_into:
        status = "coalesced"
    else:
        status = "queued" if intake.actionable else "recorded"
    state.metrics.webhooks.labels(delivery.resource, status).inc()
    log.debug(
        "webhook_accepted", delivery_id=delivery.id, resource=delivery.resource,
        action=delivery.action, issue_id=delivery.issue_id, status=status,
    )
    body = {"id": delivery.id, "status": status}
    if taken.coalesced_into:
        body["coalesced_into"] = taken.coalesced_into
    return Response(orjson.dumps(body), status_code=202, media_type="application/json")


async def spool(state: GatewayState, intake: Intake) -> Response:
    delivery = intake.delivery
    try:
        await asyncio.to_thread(state.spool.append, intake)
    except (SpoolFull, OSError) as exc:
        state.metrics.spool_refused.inc()
        state.metrics.webhooks.labels(delivery.resource, "refused").inc()
        log.error("spool_refused", delivery_id=delivery.id, error=str(exc))
        return JSONResponse(
            {"error": "queue_unavailable", "detail": "the queue is unreachable and the spool is full; retry later"},
            status_code=503,
            headers={"Retry-After": "5", "Sentry-Hook-Error": "queue_unavailable"},
        )
    state.metrics.spooled.inc()
    state.metrics.webhooks.labels(delivery.resource, "spooled").inc()
    log.warning("webhook_spooled", delivery_id=delivery.id, resource=delivery.resource)
    return JSONResponse(
        {"id": delivery.id, "status": "spooled", "spooled": True}, status_code=202,
        headers={"X-Responder-Spooled": "1"},
    )
