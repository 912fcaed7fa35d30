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
from shared.routing import skip_reason
from shared.webhooks import parse_webhook

SIGNATURE_HEADERS = ("sentry-hook-signature", "sentry-app-signature")
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Rejection:
    status: int
    error: str
    detail: str | list[dict[str, Any]] = field(default="")

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail}


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


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now_s: float,
    tolerance_s: float,
) -> Rejection | None:
    signature = next((headers[h] for h in SIGNATURE_HEADERS if headers.get(h)), None)
    failure = verify_signature(body, signature, secrets)
    # The legacy header (UI components, alert-rule actions) may come without a timestamp.
    timestamped = headers.get("sentry-hook-signature") or headers.get("sentry-hook-timestamp")
    if failure is None and timestamped:
        failure = check_timestamp(headers.get("sentry-hook-timestamp"), now_s, tolerance_s)
    if failure is None:
        return None
    return Rejection(401, failure.value, _SIGNATURE_DETAIL[failure])


def parse_json(body: bytes) -> object:
    """orjson first (the stdlib parser was a fifth of the gateway's CPU); the stdlib for what
    orjson refuses and Python accepts (NaN, integers beyond 64 bits), so both accept the same."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def take(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now_s: float,
    tolerance_s: float,
) -> Intake | Rejection:
    rejection = verify(body, headers, secrets, now_s, tolerance_s)
    if rejection is not None:
        return rejection
    resource = (headers.get("sentry-hook-resource") or "").strip() or "unknown"
    delivery_key = delivery_id(headers, body)
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
    return Intake(delivery, actionable=reason is None, reason=reason, raw_body=body)
