"""Sentry's webhook signature check, as a pure function over bytes and strings.

Sentry signs the body exactly as sent: lowercase hex HMAC-SHA256 keyed with the integration's
client secret. Verifying the raw bytes (never re-serialized JSON) is what makes it work.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from enum import StrEnum


class SignatureFailure(StrEnum):
    MISSING = "missing_signature"
    MALFORMED = "malformed_signature"
    MISMATCH = "signature_mismatch"
    MISSING_TIMESTAMP = "missing_timestamp"
    BAD_TIMESTAMP = "invalid_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"


HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def sign(body: bytes, secret: str) -> str:
    return hmac.digest(secret.encode(), body, "sha256").hex()  # one C call, no HMAC object


def verify_signature(
    body: bytes, signature: str | None, secrets: Sequence[str]
) -> SignatureFailure | None:
    """Return why the signature fails, or None when some configured secret matches.

    Every secret is tried with a constant-time compare, so the time taken does not tell which
    secret (or how much of a signature) matched.
    """
    if not signature:
        return SignatureFailure.MISSING
    candidate = signature.strip().lower()
    if HEX_DIGEST.fullmatch(candidate) is None:
        return SignatureFailure.MALFORMED
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret), candidate)
    return None if matched else SignatureFailure.MISMATCH


def check_timestamp(
    timestamp: str | None, now_s: float, tolerance_s: float
) -> SignatureFailure | None:
    """Replay protection: the send time must be within the tolerance of our clock."""
    if timestamp is None or not timestamp.strip():
        return SignatureFailure.MISSING_TIMESTAMP
    try:
        sent_s = float(timestamp)
    except ValueError:
        return SignatureFailure.BAD_TIMESTAMP
    if sent_s != sent_s or abs(now_s - sent_s) > tolerance_s:  # NaN or outside the window
        return SignatureFailure.STALE_TIMESTAMP
    return None
