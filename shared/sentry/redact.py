"""Remove secrets and e-mail addresses from text taken from events before it goes into a comment.

Pure and conservative: it is better to hide a harmless long hex string than to post a token.
"""

from __future__ import annotations

import json
import re

MASK = "[redacted]"

# (pattern, replacement, needles): a pattern runs only when one of its needles (lower case) is in
# the text; a plain substring search is far cheaper than a regex scan of a whole payload.
_PATTERNS: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    # PEM private keys, whole blocks
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), MASK,
     ("private key-----",)),
    # Sentry, GitHub, Slack, Stripe, AWS, Google tokens by their well-known shapes
    (re.compile(r"\bsntry[su]_[A-Za-z0-9+/=_\-]{10,}"), MASK, ("sntry",)),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), MASK, ("xox",)),
    (re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{10,}"), MASK, ("k_live_", "k_test_")),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK, ("akia", "asia")),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), MASK, ("aiza",)),
    # JSON web tokens
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), MASK, ("eyj",)),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 " + MASK,
     ("bearer", "basic", "token")),
    # credentials in URLs (DSNs, database URLs): scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*):[^@\s/]+@"), r"\1:" + MASK + "@", ("://",)),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[0-9a-f]{32}@"), r"\1" + MASK + "@", ("://",)),
]
_AFTER_PAIRS: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    # e-mail addresses
    (re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"), "[email]", ("@",)),
    # long opaque hex strings (64+ characters: keys, not the 40 of a commit in a release name)
    (re.compile(r"\b[0-9a-fA-F]{64,}\b"), MASK, ()),
]


# key=value and "key": "value" pairs whose key ends in a word naming a secret. Matched on the
# lower-cased text without IGNORECASE: Python's re is ten times slower on a case-insensitive
# alternation, and this pattern was most of a job's redaction time.
_SECRET_PAIR = re.compile(
    r"""(?x)
    (password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key
        |private[_\-]?key|client[_\-]?secret|auth[_\-]?token|session[_\-]?id|cookie)
    (\s*["']?\s*[:=]\s*["']?)
    ([^\s"',;&}*]{3,})
    """
)


def _mask_secret_pairs(text: str) -> str:
    lower = text.lower()
    if len(lower) != len(text):  # a few characters change length when lowered: do it the slow way
        return re.compile(_SECRET_PAIR.pattern, re.X | re.I).sub(r"\1\2" + MASK, text)
    out, last = [], 0
    for match in _SECRET_PAIR.finditer(lower):
        out += [text[last : match.start(3)], MASK]
        last = match.end(3)
    return "".join(out) + text[last:] if out else text


def _apply(text: str, patterns: list[tuple[re.Pattern[str], str, tuple[str, ...]]]) -> str:
    lower = text.lower()
    for pattern, replacement, needles in patterns:
        if needles and not any(n in lower for n in needles):
            continue
        text = pattern.sub(replacement, text)
        lower = text.lower()
    return text


def redact(text: str) -> str:
    # Order matters: whole PEM blocks and token shapes first, then key=value pairs, then the rest.
    return _apply(_mask_secret_pairs(_apply(text, _PATTERNS)), _AFTER_PAIRS)


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
