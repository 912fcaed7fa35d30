"""Classification: what kind of failure this is, and the evidence that decided it.

A table of signatures (exception types, message patterns, frame modules) per category, scored;
the rules file can add signatures. Ties go to the category listed first, so specific causes
(network, database) beat the generic "code defect".

Every classification carries its evidence and a confidence (0 to 1) from the kind of evidence:
the exception type is strong, a frame module fair, a message pattern weak (a "403" in a message
is as often the application's own bug as a permission problem). Rules that resolve, ignore or
archive act only above a confidence the rules file sets (worker/plan.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shared.sentry.redact import redact
from worker.analysis.base import AnalysisContext, Finding


@dataclass(frozen=True)
class Signature:
    category: str
    types: frozenset[str] = frozenset()
    messages: tuple[re.Pattern[str], ...] = ()
    modules: tuple[re.Pattern[str], ...] = ()
    weight: int = field(default=1)


def _sig(category: str, types: str = "", messages: tuple[str, ...] = (), modules: tuple[str, ...] = ()) -> Signature:
    return Signature(
        category,
        frozenset(types.split()),
        tuple(re.compile(m, re.I) for m in messages),
        tuple(re.compile(m, re.I) for m in modules),
    )


CATEGORIES = (
    "network/timeout", "database", "permission/auth", "out of memory/resource", "configuration",
    "dependency", "validation/bad input", "code defect",
)

BUILTIN_SIGNATURES: tuple[Signature, ...] = (
    _sig("network/timeout",
         "TimeoutError ConnectTimeout ReadTimeout ConnectTimeoutError ReadTimeoutError ConnectionError "
         "ConnectionRefusedError ConnectionResetError SocketTimeoutException ConnectException "
         "UnknownHostException HttpTimeoutException NetworkError AbortError FetchError "
         "TimeoutException ClientConnectorError ServerDisconnectedError",
         (r"timed? ?out", r"connection (refused|reset|aborted)", r"ECONN(REFUSED|RESET)", r"ETIMEDOUT",
          r"network request failed", r"failed to fetch", r"getaddrinfo", r"name or service not known",
          r"broken pipe", r"socket hang up"),
         (r"^(requests|urllib3|httpx|aiohttp|java\.net|okhttp3|axios)\b",)),
    _sig("database",
         "OperationalError IntegrityError ProgrammingError DatabaseError InterfaceError "
         "DataError SQLException PSQLException SQLIntegrityConstraintViolationException "
         "QueryFailedError SequelizeDatabaseError MongoError MongoServerError DeadlockDetected "
         "UniqueViolation LockNotAvailable QueryCanceled",
         (r"deadlock", r"canceling statement due to statement timeout",
          r"duplicate key", r"relation .* does not exist", r"too many connections",
          r"could not connect to server", r"lock wait timeout", r"violates .* constraint",
          r"no such table", r"SQLSTATE"),
         (r"^(sqlalchemy|psycopg2?|django\.db|pymysql|asyncpg|pymongo|org\.hibernate|java\.sql|"
          r"org\.postgresql|sequelize|typeorm|prisma)\b",)),
    _sig("permission/auth",
         "PermissionError PermissionDenied Forbidden Unauthorized AccessDeniedException "
         "AuthenticationError AuthenticationException NotAuthenticated AuthorizationError "
         "SecurityException InvalidTokenError ExpiredSignatureError",
         (r"permission denied", r"not authori[sz]ed", r"access denied", r"\b40[13]\b",
          r"forbidden", r"invalid (token|credentials)", r"token (has )?expired")),
    _sig("out of memory/resource",
         "MemoryError OutOfMemoryError StackOverflowError RecursionError ResourceExhausted "
         "RangeError",
         (r"out of memory", r"no space left on device", r"too many open files",
          r"maximum call stack size exceeded", r"maximum recursion depth", r"ENOSPC", r"EMFILE",
          r"heap out of memory", r"GC overhead limit")),
    _sig("configuration",
         "ImproperlyConfigured ConfigurationError ConfigurationException "
         "MissingEnvironmentVariable BeanCreationException",
         (r"environment variable", r"not configured", r"missing (setting|config)",
          r"settings\.\w+ is (not set|missing)", r"no such file or directory.*\.(ya?ml|ini|toml|json|env)\b",
          r"invalid configuration")),
    _sig("dependency",
         "ImportError ModuleNotFoundError NoClassDefFoundError ClassNotFoundException "
         "ChunkLoadError NoSuchMethodError UnsatisfiedLinkError",
         (r"cannot find module", r"no module named", r"loading chunk \d+ failed",
          r"bad gateway", r"service unavailable", r"\b50[23]\b", r"upstream")),
    _sig("validation/bad input",
         "ValidationError ValueError JSONDecodeError NumberFormatException IllegalArgumentException "
         "BadRequest SuspiciousOperation UnicodeDecodeError InvalidInputError "
         "MethodArgumentNotValidException HttpMessageNotReadableException",
         (r"invalid (input|value|literal|format|email|date)", r"unexpected token .* in json",
          r"is not valid", r"expected .* got", r"must be (a|an|one of)", r"required field",
          r"bad request")),
    _sig("code defect",
         "TypeError AttributeError NameError ReferenceError NullPointerException IndexError "
         "KeyError ZeroDivisionError ArrayIndexOutOfBoundsException IndexOutOfBoundsException "
         "ClassCastException UnboundLocalError AssertionError NotImplementedError "
         "IllegalStateException ConcurrentModificationException ArithmeticException "
         "NoMethodError UndefinedMethodError",
         (r"is not defined", r"is not a function", r"cannot read propert(y|ies) of (undefined|null)",
          r"undefined is not an object", r"has no attribute", r"object is not (callable|subscriptable)",
          r"null pointer", r"index out of range", r"nil map", r"null is not an object")),
)


@dataclass(frozen=True)
class Evidence:
    """What kind of evidence a category has, for its confidence."""

    type: bool = False
    causes: int = 0
    messages: int = 0
    module: bool = False

    def add(self, type_: bool, causes: int, messages: int, module: bool) -> Evidence:
        return Evidence(self.type or type_, self.causes + causes, self.messages + messages, self.module or module)

    def confidence(self) -> float:
        if self.type:
            value = 0.7 + 0.1 * min(self.causes, 1) + 0.1 * self.module + 0.05 * min(self.messages, 2)
        elif self.causes or self.module:
            value = 0.4 + 0.1 * min(self.causes, 2) + 0.1 * min(self.messages, 2)
        else:  # a message pattern alone: a guess
            value = 0.15 * min(self.messages, 2)
        return round(min(value, 0.95), 2)

    def basis(self) -> str:
        if self.type:
            return "exception type"
        if self.causes or self.module:
            return "causes and frames"
        return "message only"


def signatures_from_options(options: list[dict[str, Any]]) -> tuple[Signature, ...]:
    return tuple(
        _sig(o["category"], " ".join(o.get("types", [])), tuple(o.get("messages", [])),
             tuple(o.get("modules", [])))
        for o in options
    )


def classify(ctx: AnalysisContext) -> Finding | None:
    extra = signatures_from_options(ctx.options.get("classification", []))
    exceptions = ctx.event.exceptions() if ctx.event else []
    # The exception finally raised (last in Sentry's chain) weighs most; its causes count less.
    primary_type = (exceptions[-1].type if exceptions else None) or str(ctx.issue.metadata.get("type") or "")
    causes = [e.type for e in exceptions[:-1] if e.type]
    messages = list(dict.fromkeys(e.value for e in exceptions if e.value)) or [
        str(ctx.issue.metadata.get("value") or ctx.issue.title)
    ]
    # Evidence quotes a piece of a message: redact first, as a piece alone is no longer
    # recognisable as a secret (`"api_key": "invalid token"` would be quoted as "invalid token").
    messages = [redact(m) for m in messages]
    modules = [f.module or f.filename or "" for e in exceptions for f in e.frames]
    scores: dict[str, int] = {}
    evidence: dict[str, list[str]] = {}
    kinds: dict[str, Evidence] = {}
    for sig in (*extra, *BUILTIN_SIGNATURES):  # extensions first: they win ties
        score = 0
        found: list[str] = []
        if primary_type.split(".")[-1] in sig.types:
            score += 4
            found.append(f"exception type {primary_type}")
        for cause in causes:
            if cause.split(".")[-1] in sig.types:
                score += 1
                found.append(f"caused by {cause}")
        hits = list(dict.fromkeys(h.group(0) for p in sig.messages for m in messages if (h := p.search(m))))
        score += len(hits[:2])
        found += [f"message says “{hit}”" for hit in hits[:2]]
        module = next((m for p in sig.modules for m in modules if m and p.search(m)), None)
        if module is not None:
            score += 1
            found.append(f"frame in {module}")
        if score:
            scores[sig.category] = scores.get(sig.category, 0) + score
            evidence.setdefault(sig.category, []).extend(found)
            kinds[sig.category] = kinds.get(sig.category, Evidence()).add(
                primary_type.split(".")[-1] in sig.types, sum(c.split(".")[-1] in sig.types for c in causes),
                len(hits[:2]), module is not None,
            )
    if not scores:
        return Finding(
            handler="classification", summary="unclassified",
            data={"category": "unclassified", "evidence": [], "scores": {}, "confidence": 0.0},
        )
    order = {c: i for i, c in enumerate([*(s.category for s in extra), *CATEGORIES])}
    category = max(scores, key=lambda c: (scores[c], -order.get(c, 99)))
    return Finding(
        handler="classification",
        summary=category,
        data={"category": category, "evidence": evidence[category], "scores": scores,
              "confidence": kinds[category].confidence(), "basis": kinds[category].basis()},
    )
