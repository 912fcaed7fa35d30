"""Remove secrets and e-mail addresses from text taken from events before it goes into a comment.

Pure and conservative: it is better to hide a harmless long hex string than to post a token.
"""

from __future__ import annotations

import json
import re

MASK = "[redacted]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys, whole blocks
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), MASK),
    # Sentry, GitHub, Slack, Stripe, AWS, Google tokens by their well-known shapes
    (re.compile(r"\bsntry[su]_[A-Za-z0-9+/=_\-]{10,}"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), MASK),
    (re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{10,}"), MASK),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), MASK),
    # JSON web tokens
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), MASK),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 " + MASK),
    # credentials in URLs (DSNs, database URLs): scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*):[^@\s/]+@"), r"\1:" + MASK + "@"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[0-9a-f]{32}@"), r"\1" + MASK + "@"),
    # key=value and "key": "value" pairs whose key names a secret
    (
        re.compile(
            r"""(?ix)
            \b((?:[a-z0-9_\-]*?)(?:password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key
                |private[_\-]?key|client[_\-]?secret|auth[_\-]?token|session[_\-]?id|cookie))
            (\s*["']?\s*[:=]\s*["']?)
            ([^\s"',;&}*]{3,})
            """
        ),
        r"\1\2" + MASK,
    ),
    # e-mail addresses
    (re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"), "[email]"),
    # long opaque hex strings (64+ characters: keys, not the 40 of a commit in a release name)
    (re.compile(r"\b[0-9a-fA-F]{64,}\b"), MASK),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_json(value: object) -> str:
    """`value` as JSON text with secrets masked, for what is kept after a job (records, findings).

    The patterns keep JSON's quotes and structure; should a mask ever break it, the text is kept
    as one redacted string rather than risk storing a secret.
    """
    text = redact(json.dumps(value, separators=(",", ":"), default=str))
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(redact(str(value)))
    return text
