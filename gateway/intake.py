"""From a request's raw bytes and headers to a verified, validated delivery, or a clear rejection.

Pure: no Starlette, no Redis. Order matters: verify the signature over the raw bytes first, parse
after, so nothing unsigned is ever decoded.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from gateway.signature import SignatureFailure, check_timestamp, verify_signature
from shared.jobs import Delivery
from shared.queue import Intake
from shared.skip_policy import skip_reason
from shared.webhooks import OTHER, UI_COMPONENT, Envelope, bounded_resource, parse_webhook

SIGNATURE_HEADERS = ("sentry-hook-signature", "sentry-app-signature")
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_RESOURCE_NAME = 64
MAX_UNACTED_PAYLOAD_BYTES = 16 * 1024  # unknown resources and UI components: kept whole up to this


@dataclass(frozen=True)
class Rejection:
    status: int
    error: str
    detail: str | list[dict[str, Any]] = field(default="")


_SIGNATURE_DETAIL = {
    SignatureFailure.MISSING: "Sentry-Hook-Signature header is missing",
    SignatureFailure.MALFORMED: "signature is not a 64-character hex HMAC-SHA256 digest",
    SignatureFailure.MISMATCH: "signature does not match the body for any configured client secret",
    SignatureFailure.MISSING_TIMESTAMP: "Sentry-Hook-Timestamp header is missing",
    SignatureFailure.BAD_TIMESTAMP: "Sentry-Hook-Timestamp is not a Unix time in seconds",
    SignatureFailure.STALE_TIMESTAMP: "Sentry-Hook-Timestamp is outside the accepted window",
}


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    """Sentry's Request-ID; a digest of the body when it is absent, so redelivery still de-dups."""
    request_id = (headers.get("request-id") or "").strip()
    if REQUEST_ID.match(request_id):
        return request_id
    return hashlib.sha256(body).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Trust:
    """What a request is checked against: the client secrets (several during rotation), the
    timestamp window, and whether a legacy-only signature may come with any resource header."""

    secrets: Sequence[str]
    tolerance_s: float
    legacy_any_resource: bool = False


def verify(body: bytes, headers: Mapping[str, str], trust: Trust, now_s: float) -> Rejection | None:
    """Sentry signs webhooks in `Sentry-Hook-Signature` (with a timestamp) and UI-component and
    alert-rule-action requests in the legacy `Sentry-App-Signature` (no timestamp, no resource
    header). A body signed in the new header can be re-sent under the legacy one (finding 3), so
    a legacy-only signature counts only for requests shaped like Sentry's legacy ones."""
    hook_signature = headers.get("sentry-hook-signature")
    signature = hook_signature or headers.get("sentry-app-signature")
    failure = verify_signature(body, signature, trust.secrets)
    if failure is None and (hook_signature or headers.get("sentry-hook-timestamp")):
        failure = check_timestamp(headers.get("sentry-hook-timestamp"), now_s, trust.tolerance_s)
    if failure is not None:
        return Rejection(401, failure.value, _SIGNATURE_DETAIL[failure])
    if not hook_signature and headers.get("sentry-hook-resource", "").strip() and not trust.legacy_any_resource:
        return Rejection(
            401, "legacy_signature_refused",
            "Sentry-App-Signature alone is accepted only for UI-component and alert-rule-action requests",
        )
    return None


def parse_json(body: bytes) -> object:
    """orjson first (the stdlib parser was a fifth of the gateway's CPU); the stdlib for what
    orjson refuses and Python accepts (NaN, integers beyond 64 bits), so both accept the same."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def take(body: bytes, headers: Mapping[str, str], trust: Trust, now_s: float) -> Intake | Rejection:
    rejection = verify(body, headers, trust, now_s)
    if rejection is not None:
        return rejection
    sent = (headers.get("sentry-hook-resource") or "").strip()
    digest = hashlib.sha256(body).hexdigest() if body.strip() else ""
    delivery_key = delivery_id(headers, body)
    if not sent and not headers.get("sentry-hook-signature"):
        return _ui_component(body, delivery_key, now_s, digest)
    resource = bounded_resource(sent or "unknown")
    if not body.strip():
        # Sentry sends some signed requests with no body (UI components): nothing to act on.
        delivery = Delivery(id=delivery_key, resource=resource, action="", received_at=now_s)
        return Intake(delivery, actionable=False, reason="empty body")
    try:
        payload = parse_json(body)
    except (ValueError, RecursionError):
        return Rejection(400, "invalid_json", "body is not valid UTF-8 JSON")
    if not isinstance(payload, dict):
        return Rejection(400, "invalid_json", "body must be a JSON object")
    try:
        envelope = parse_webhook(resource, payload)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return Rejection(422, "invalid_payload", errors)
    if resource == OTHER:
        return _unknown_resource(envelope, sent, body, payload, delivery_key, now_s, digest)
    delivery = Delivery(
        id=delivery_key,
        resource=resource,
        action=envelope.action,
        received_at=now_s,
        issue_id=envelope.issue_id(),
        installation_uuid=envelope.installation.uuid if envelope.installation else None,
        body=payload,
    )
    reason = skip_reason(envelope)
    return Intake(delivery, actionable=reason is None, reason=reason, raw_body=body, body_sha256=digest)


def _printable(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "?", name[:MAX_RESOURCE_NAME])


def _kept(body: bytes, payload: object) -> tuple[dict[str, Any], bytes, str]:
    """A payload worth recording whole only when it is small: an unknown resource does no work."""
    if isinstance(payload, dict) and len(body) <= MAX_UNACTED_PAYLOAD_BYTES:
        return payload, body, ""
    return {}, b"", f"; payload of {len(body)} bytes not kept"


def _unknown_resource(
    envelope: Envelope, sent: str, body: bytes, payload: dict[str, Any], key: str, now_s: float, digest: str
) -> Intake:
    kept, raw, note = _kept(body, payload)
    action = envelope.action[:MAX_RESOURCE_NAME]
    delivery = Delivery(id=key, resource=OTHER, action=action, received_at=now_s, body=kept)
    reason = f"unknown resource {_printable(sent)}{note}"
    return Intake(delivery, actionable=False, reason=reason, raw_body=raw, body_sha256=digest)


def _ui_component(body: bytes, key: str, now_s: float, digest: str) -> Intake:
    """A request signed only in the legacy header and naming no resource: how Sentry sends UI
    components and alert-rule actions. Recorded, never acted on."""
    payload: object = None
    if body.strip():
        try:
            payload = parse_json(body)
        except (ValueError, RecursionError):
            return Intake(Delivery(id=key, resource=UI_COMPONENT, action="", received_at=now_s),
                          actionable=False, reason="UI component request (not JSON)", body_sha256=digest)
    kept, raw, note = _kept(body, payload) if payload is not None else ({}, b"", "")
    delivery = Delivery(id=key, resource=UI_COMPONENT, action="", received_at=now_s, body=kept)
    reason = ("UI component request" if body.strip() else "empty body") + note
    return Intake(delivery, actionable=False, reason=reason, raw_body=raw, body_sha256=digest)
