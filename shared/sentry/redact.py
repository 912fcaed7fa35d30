"""Remove secrets and e-mail addresses from text taken from events before it is shown or kept.

Pure and conservative: it is better to hide a harmless long hex string than to post a token.
Redaction runs on raw text, before any escaping (an escaped `ghp\\_…` no longer looks like a
token); `secret_spans` serves callers that must map the spans onto another form of the text
(worker/markdown.py redacts a rendered comment that way).

Speed: each rule names needles, plain substrings that must occur for it to run (a substring
search is far cheaper than a regex scan of a whole payload), and case-insensitive rules match the
lower-cased text without `re.IGNORECASE` (ten times slower on an alternation in Python's re).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

MASK = "[redacted]"
Span = tuple[int, int]


_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@dataclass(frozen=True)
class Rule:
    """A pattern whose groups named `s…` (else its whole match) are secrets.

    `starts`: lower-case substrings a match begins with; the pattern is then tried only where one
    occurs (found by `str.find`), never at every position of the text. `needles`: substrings one
    of which must occur for a scanning rule to run at all. `accept`: when set, a found value is a
    secret only if it says so (for rules whose context alone is weak evidence).
    """

    pattern: str
    starts: tuple[str, ...] = ()
    needles: tuple[str, ...] = ()
    lower: bool = False  # match the lower-cased text (the pattern is written in lower case)
    word_start: bool = False  # not when glued to a letter or digit before it
    flags: int = 0
    accept: Callable[[str], bool] | None = None
    compiled: re.Pattern[str] = field(init=False, repr=False)
    folded: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern, self.flags))
        object.__setattr__(self, "folded", re.compile(self.pattern, self.flags | re.IGNORECASE))

    def spans(self, text: str, lower: str) -> list[Span]:
        if self.needles and not any(n in lower for n in self.needles):
            return []
        if len(lower) != len(text):  # a few characters change length when lowered: positions drift
            matches = list((self.folded if self.lower else self.compiled).finditer(text))
        elif self.starts:
            matches = self._at_starts(lower if self.lower else text, lower)
        else:
            matches = list(self.compiled.finditer(lower if self.lower else text))
        out: list[Span] = []
        for match in matches:
            if self.word_start and match.start() > 0 and text[match.start() - 1] in _ALNUM:
                continue
            names = [n for n in match.re.groupindex if n.startswith("s") and match.start(n) >= 0]
            out += [match.span(n) for n in names] if match.re.groupindex else [match.span()]
        return [s for s in out if s[1] > s[0] and (self.accept is None or self.accept(text[s[0] : s[1]]))]

    def _at_starts(self, source: str, lower: str) -> list[re.Match[str]]:
        positions: set[int] = set()
        for start in self.starts:
            at = lower.find(start)
            while at >= 0:
                positions.add(at)
                at = lower.find(start, at + 1)
        # Every start is tried, even inside an earlier match: in "token: password: x" the pair
        # at "token" ends at "password:", and the one at "password" masks x (spans are merged).
        return [m for at in sorted(positions) if (m := self.compiled.match(source, at))]


# Names of keys, headers and fields whose value is a secret (lower case, matched anywhere in a key).
_SECRET_WORDS = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "api-key", "apikey",
    "access_key", "access-key", "accesskey", "private_key", "private-key", "privatekey", "signing_key",
    "client_secret", "auth", "session", "sessid", "cookie", "credential", "csrf", "xsrf", "signature", "dsn",
    "accountkey",
)
_SECRET_NAME = "(?:" + "|".join(re.escape(w) for w in _SECRET_WORDS) + ")"
# A quoted value, also inside a JSON string (`\"…\"`), or a bare one up to a separator (a
# backtick too: in a comment it closes a code span).
_VALUE = (
    r"""(?:\\+"(?P<s1>.*?)\\+"|"(?P<s2>(?:[^"\\\n]|\\.)*)"|'(?P<s3>[^'\n]*)'"""
    r"""|(?!(?:null|true|false)\b)(?P<s4>(?:[^\s"',;&}*`\\]|\\(?!"))(?:[^\s"',;&}*`\\]|\\(?!")){2,}))"""
)


def _looks_like_password(value: str) -> bool:
    """A value named only by words around it ("the password is X") is a secret when it looks
    like one: six characters or more holding a digit or a symbol. Words (`incorrect`, `Required`),
    literals (`None`, `null`, `undefined`), identifiers and attributes (`old_password`,
    `TOO_SHORT`, `not-set`, `user.password`) hold only letters, `_`, `-`, `.` and are kept, as are
    they with a sentence's closing punctuation (`wrong!`)."""
    core = value.rstrip(".!?)")
    return len(core) >= 6 and any(c.isdigit() or not (c.isalpha() or c in "_-. ") for c in core)


def _looks_like_code(value: str) -> bool:
    """An OTP or PIN is digits (a backup code mixes in letters): at least four digits, making
    at least half the value. `PIN: required` and `pin: requests==2.31.0` are kept."""
    digits = sum(c.isdigit() for c in value)
    return digits >= 4 and 2 * digits >= len(value)


RULES: tuple[Rule, ...] = (
    # PEM private keys, whole blocks (to the end of the text when the block is cut short)
    Rule(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|\Z)",
         starts=("-----begin ",), needles=("private key",), flags=re.S),
    # Tokens by their published shapes: Sentry, GitHub, GitLab, Slack, Stripe, OpenAI, AWS, Google
    Rule(r"sntry[su]_[A-Za-z0-9+/=_\-]{10,}", ("sntrys_", "sntryu_"), word_start=True),
    Rule(r"gh[pousr]_[A-Za-z0-9]{20,}", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), word_start=True),
    Rule(r"github_pat_[A-Za-z0-9_]{20,}", ("github_pat_",), word_start=True),
    Rule(r"glpat-[A-Za-z0-9_\-]{20,}", ("glpat-",), word_start=True),
    Rule(r"(?:xox[abeoprs]|xapp)-[A-Za-z0-9\-]{10,}", ("xox", "xapp-"), word_start=True),
    Rule(r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}", ("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
         word_start=True),
    Rule(r"sk-(?:proj-|ant-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}", ("sk-",), word_start=True),
    Rule(r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])", ("akia", "asia"), word_start=True),
    Rule(r"AIza[0-9A-Za-z_\-]{35}", ("aiza",)),
    # npm, SendGrid, Stripe webhook secrets, Hugging Face, Shopify, DigitalOcean, Grafana, PyPI
    Rule(r"(?:npm_|hf_|shp(?:at|ss|ca|pa)_|do[opr]_v1_|glsa_)[A-Za-z0-9_]{20,}|whsec_[A-Za-z0-9+/=]{20,}"
         r"|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}|pypi-[A-Za-z0-9_\-]{40,}",
         ("npm_", "hf_", "shpat_", "shpss_", "shpca_", "shppa_", "doo_v1_", "dop_v1_", "dor_v1_", "glsa_", "whsec_",
          "sg.", "pypi-"), word_start=True),
    # Square, Linear, Databricks, Google OAuth (access `ya29.`, refresh `1//0`), Facebook/Meta (`EAA…`)
    Rule(r"sq0(?:atp|csp)-[A-Za-z0-9_\-]{20,}|lin_(?:api|oauth)_[A-Za-z0-9]{20,}|dapi[0-9a-f]{32}(?:-[0-9]+)?"
         r"|ya29\.[A-Za-z0-9_\-]{20,}|1//0[A-Za-z0-9_\-]{20,}|EAA[A-Za-z0-9]{30,}",
         ("sq0atp-", "sq0csp-", "lin_api_", "lin_oauth_", "dapi", "ya29.", "1//0", "eaa"), word_start=True),
    # Twilio API key and account SIDs: exactly 32 lower-case hex after the prefix, nothing glued on
    Rule(r"(?:SK|AC)[0-9a-f]{32}(?![0-9A-Za-z])", ("sk", "ac"), word_start=True),
    # Azure shared access signatures: the `sig=` query parameter of a SAS URL (after `?`, `&` or
    # `;` as in `&amp;`: `verify(sig=signature_bytes)` is code)
    Rule(r"(?<=[?&;])sig=(?P<s>[a-z0-9%+/=_\-]{16,})", ("sig=",), lower=True),
    # Slack and Discord incoming-webhook URLs: whoever has one can post as the integration
    Rule(r"hooks\.slack\.com/services/(?P<s>[A-Za-z0-9/]{20,})|discord(?:app)?\.com/api/webhooks/(?P<s2>[0-9]+/[A-Za-z0-9_\-]+)",
         ("hooks.slack.com/", "discord.com/api/webhooks/", "discordapp.com/api/webhooks/")),
    # JSON web tokens (base64url: `_` and `-` included; the signature may be empty)
    Rule(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]*)?", ("eyj",)),
    # Authorization schemes and bearer tokens; after the English word "token" only what looks
    # like one ("invalid token provided" keeps its last word)
    Rule(r"(?:bearer|basic)\s+(?P<s>[a-z0-9._~+/=\-]{8,})", ("bearer", "basic"), lower=True),
    Rule(r"token\s+(?P<s>(?=[a-z._~]*[0-9+/=_\-])[a-z0-9._~+/=\-]{8,}|[a-z0-9._~+/=\-]{20,})", ("token",),
         lower=True),
    # credentials in URLs (database URLs, DSNs): scheme://user:password@host, scheme://key@host
    # (a password may hold "/" and "@": generated ones do, unencoded; it runs to the token's last "@")
    Rule(r"://(?:[^/\s:@\"']*:(?P<s1>[^\s\"']+)|(?P<s2>[0-9a-f]{32}))@", ("://",), lower=True),
    # header pairs in lists, as Sentry stores request headers: ["X-Api-Key", "…"], ('Cookie', '…')
    Rule(r"""[\[(]\s*\\*["'][a-z0-9_\-]*""" + _SECRET_NAME + r"""[a-z0-9_\-]*\\*["']\s*,\s*""" + _VALUE,
         needles=_SECRET_WORDS, lower=True),
    # key=value, key: value, "key": "value", \"key\": \"value\", key => value
    Rule(_SECRET_NAME + r"""[a-z0-9_\-]*\\*["']?\s*(?:=>|[:=])\s*""" + _VALUE, _SECRET_WORDS, lower=True),
    # short names too common inside other words to join the list above: `key=` only as a query
    # parameter (`"key": …` is how Sentry names a tag, `key={item.id}` and `key=lambda` are code)
    Rule(r"""(?<=[?&])key=\s*""" + _VALUE, needles=("key=",), lower=True),
    # `otp` and `pin` taken whole, with `=` or `:`, when the value is digits (_looks_like_code)
    Rule(r"""(?<![a-z0-9_.\-])(?:otp|pin)\\*["']?\s*[:=]\s*""" + _VALUE, needles=("otp", "pin"), lower=True,
         accept=_looks_like_code),
    # a password in words: "the password is X", "password was: X", when X looks like a password
    # (_looks_like_password); a bare value never ends with `:` (`if password is None:`)
    Rule(r"""(?i:password|passwd|passphrase)\s+(?i:is|was)(?::\s*|\s+)(?:\\+"(?P<s1>.*?)\\+"|"""
         r""""(?P<s2>[^"\n]+)"|'(?P<s3>[^'\n]+)'|(?P<s4>[^\s"',;`\\]*[^\s"',;:`\\]))""",
         ("password", "passwd", "passphrase"), needles=("pass",), accept=_looks_like_password),
    # long opaque hex strings (64+ characters: keys, not the 40 of a commit in a release name)
    Rule(r"\b[0-9a-fA-F]{64,}\b"),
)

EMAIL_MASK = "[email]"
# An e-mail address is found from its "@" (a literal the regex engine skips to), its local part
# read backwards: a pattern starting with a character class was as slow as all the rules together.
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b")
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
MAX_LOCAL = 64


def email_spans(text: str) -> list[Span]:
    if "@" not in text:
        return []
    spans: list[Span] = []
    for match in _EMAIL_DOMAIN.finditer(text):
        start = match.start()
        while start > 0 and match.start() - start < MAX_LOCAL and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        if start < match.start():
            spans.append((start, match.end()))
    return spans


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def secret_spans(text: str) -> list[tuple[Span, str]]:
    """Where the secrets (and e-mail addresses) in `text` are, each with what replaces it.

    All rules look at the same text and overlapping finds are merged, so one secret inside
    another (a token inside a `password=` pair, a PEM block in a JSON string) goes as one.
    """
    lower = text.lower()
    secrets = _merge([s for rule in RULES for s in rule.spans(text, lower)])
    emails = [s for s in email_spans(text) if not any(a < s[1] and s[0] < b for a, b in secrets)]
    return sorted([(s, MASK) for s in secrets] + [(s, EMAIL_MASK) for s in emails])


def replace_spans(text: str, spans: list[tuple[Span, str]]) -> str:
    out, last = [], 0
    for (start, end), mask in spans:
        out += [text[last:start], mask]
        last = end
    return "".join(out) + text[last:]


def redact(text: str) -> str:
    spans = secret_spans(text)
    return replace_spans(text, spans) if spans else text


def redact_json(value: object) -> str:
    """`value` as JSON text with secrets masked, for what is kept after a job (records, findings).

    The patterns keep JSON's quotes and structure; should a mask ever break it (a number under a
    secret's name), the value is masked field by field instead.
    """
    text = redact(json.dumps(value, separators=(",", ":"), default=str))
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(redact_value(json.loads(json.dumps(value, default=str))), separators=(",", ":"))
    return text


_SECRET_KEY = re.compile(_SECRET_NAME)


def redact_value(value: object) -> object:
    """A JSON-like value with its strings redacted and whatever sits under a secret's name masked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: MASK if _names_secret(k, v) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 2 and _names_secret(value[0], value[1]):  # a header pair
            return [value[0], MASK]
        return [redact_value(v) for v in value]
    return value


def _names_secret(key: object, value: object) -> bool:
    return isinstance(key, str) and value is not None and not isinstance(value, bool | dict | list) and bool(
        _SECRET_KEY.search(key.lower())
    )
