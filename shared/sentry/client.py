"""The one async client the worker uses to talk to Sentry's API.

One `httpx.AsyncClient` per process (pooled keep-alive connections), Bearer auth, the
organization-scoped paths Sentry documents today. Two kinds of waiting, on purpose apart: the
shared budget (`RateLimiter`) paces calls *before* they are made; tenacity retries the short
faults (429 honouring Retry-After or Sentry's reset header, 5xx and transport errors with
jittered exponential backoff, bounded attempts) *after*. Nothing here logs or raises the token.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter
from redis.asyncio import Redis
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from shared.sentry.errors import SentryError, SentryRateLimited, SentryTransportError, error_for
from shared.sentry.models import (
    CommitFile,
    Event,
    EventSummary,
    Issue,
    IssueStatus,
    IssueUpdate,
    Note,
    ReleaseDetails,
    StatusDetails,
    TagDistribution,
)
from shared.sentry.ratelimit import ConcurrencyGate, RateLimiter, RedisRateLimiter
from shared.sentry.redact import redact
from shared.settings import Settings

T = TypeVar("T", bound=BaseModel)
OnCall = Callable[[str, str, int | None, float], None]
Sleep = Callable[[float], Awaitable[None]]

# The longest wait a job's call sleeps (a 429's Retry-After, the shared budget). Anything longer
# ends the job's try, which comes back later (arq `Retry(defer=...)`): nothing sleeps long in a job.
# Callers outside a job (undo, the backtest) pass `max_wait_s=None` and wait (a 429 up to 120 s).
MAX_INLINE_WAIT_S = 5.0
# When the running job's own timeout falls (time.monotonic()), set by the job: an in-call wait may
# take at most half of what is left, so waits summed over a job's calls never run into its timeout
# (which spends a try); a longer wait ends the try as a deferral that spends none.
JOB_DEADLINE: ContextVar[float | None] = ContextVar("sentry_job_deadline", default=None)
MAX_RETRY_AFTER_S = 120.0
LINK = re.compile(r'<[^>]*>;\s*rel="(?P<rel>\w+)";\s*results="(?P<results>\w+)";\s*cursor="(?P<cursor>[^"]*)"')
NAMED = frozenset({"releases", "tags"})
UA = "sentry-responder/0.1 (+https://github.com/)"


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    hits: int | None = None  # X-Hits: how many items match in all, when Sentry says


@dataclass
class IssueUpdateResult:
    """Sentry answers an issue PUT with the fields it changed, not the whole issue."""

    body: dict[str, Any] = field(default_factory=dict)


class _WaitForSentry(wait_base):
    """Retry-After (or the rate-limit reset) for a 429; jittered exponential backoff otherwise."""

    def __init__(self, base_s: float, max_s: float, max_wait_s: float | None) -> None:
        self._backoff = wait_random_exponential(multiplier=base_s, max=max_s)
        self._max_wait_s = MAX_RETRY_AFTER_S if max_wait_s is None else max_wait_s

    def __call__(self, retry_state: Any) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, SentryRateLimited):
            return min(exc.retry_after_s, self._max_wait_s)
        return float(self._backoff(retry_state))


def retry_after_s(response: httpx.Response, now_s: float) -> float:
    """Retry-After when a proxy set one, else Sentry's own reset time, else a second."""
    header = response.headers.get("retry-after", "")
    if header.replace(".", "", 1).isdigit():
        return float(header)
    reset = response.headers.get("x-sentry-rate-limit-reset", "")
    if reset.replace(".", "", 1).isdigit():
        return max(0.0, float(reset) - now_s)
    return 1.0


def next_cursor(link_header: str | None) -> str | None:
    for match in LINK.finditer(link_header or ""):
        if match["rel"] == "next" and match["results"] == "true":
            return match["cursor"]
    return None


def endpoint_name(path: str) -> str:
    """A low-cardinality name for metrics: the path's last literal segment."""
    parts = [p for p in path.strip("/").split("/") if p]
    # A release version or a tag key names one thing, not an endpoint: count it under its parent.
    literal = [p for i, p in enumerate(parts) if not p.isdigit() and (i == 0 or parts[i - 1] not in NAMED)]
    return literal[-1] if literal else "root"


def default_transport() -> httpx.AsyncBaseTransport:
    """aiohttp under httpx's API: a fraction of httpx's own CPU cost per request under load."""
    try:
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport()
    except ImportError:  # pragma: no cover - it is a dependency; keep working without it
        return httpx.AsyncHTTPTransport(retries=0)


class SentryClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        organization: str,
        *,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = 10.0,
        max_attempts: int = 4,
        max_in_flight: int = 16,
        on_call: OnCall | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        sleep: Sleep = asyncio.sleep,
        max_wait_s: float | None = MAX_INLINE_WAIT_S,
        retry_budget_s: float | None = None,
    ) -> None:
        self.organization = organization
        # A fixed token (internal integration) or `auth`, which picks a public integration's
        # installation token per request and keeps it fresh (shared/sentry/installs.py).
        headers = {"User-Agent": UA} | ({"Authorization": f"Bearer {token}"} if token else {})
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, auth=auth, timeout=timeout_s,
            transport=transport or default_transport(),
        )
        self._limiter = limiter
        self._in_flight = ConcurrencyGate(max_in_flight)
        self._max_attempts = max_attempts
        self._wait = _WaitForSentry(backoff_base_s, backoff_max_s, max_wait_s)
        self._max_wait_s = max_wait_s
        # A job's calls end within this (tries, timeouts, backoff and waits together), so a call
        # never outlives the job's timeout; None (callers outside a job) bounds only the tries.
        self._retry_budget_s = retry_budget_s
        self._on_call = on_call
        self._sleep = sleep
        self.rate_limit_waits = 0
        self.rate_limit_wait_s = 0.0

    @classmethod
    def from_settings(
        cls, settings: Settings, redis: Redis | None = None, **kwargs: Any
    ) -> SentryClient:
        if settings.auth_token is None or not settings.organization:
            raise ValueError("SENTRY_AUTH_TOKEN and SENTRY_ORGANIZATION are needed to call Sentry")
        if redis is not None and "limiter" not in kwargs:
            kwargs["limiter"] = RedisRateLimiter(
                redis, f"org:{settings.organization}", settings.sentry_rate_limit_per_min
            )
        kwargs.setdefault("timeout_s", settings.sentry_timeout_s)
        kwargs.setdefault("max_in_flight", settings.sentry_max_in_flight)
        return cls(
            settings.base_url, settings.auth_token.get_secret_value(), settings.organization, **kwargs
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> SentryClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    @property
    def limiter(self) -> RateLimiter | None:
        return self._limiter

    # --- the API

    def _issue(self, issue_id: str) -> str:
        return f"organizations/{self.organization}/issues/{issue_id}/"

    async def get_issue(self, issue_id: str) -> Issue:
        """The issue with Sentry's own ownership (`owners`: ownership rules, codeowners, suspect
        commits), which assigning to the owner prefers over the rules file's globs."""
        response = await self._request("GET", self._issue(issue_id), params={"expand": "owners"})
        return Issue.model_validate(response.json())

    async def list_issue_events(
        self, issue_id: str, *, cursor: str | None = None, full: bool = False
    ) -> Page[EventSummary]:
        params: dict[str, str] = {"full": "true" if full else "false"}
        if cursor:
            params["cursor"] = cursor
        return await self._page("GET", self._issue(issue_id) + "events/", EventSummary, params)

    async def get_event(self, issue_id: str, event_id: str = "latest") -> Event:
        path = self._issue(issue_id) + f"events/{event_id}/"
        return Event.model_validate(await self._json("GET", path))

    async def list_comments(
        self, issue_id: str, *, cursor: str | None = None
    ) -> Page[Note]:
        params = {"cursor": cursor} if cursor else {}
        return await self._page("GET", self._issue(issue_id) + "comments/", Note, params)

    async def iter_comments(self, issue_id: str) -> AsyncIterator[Note]:
        """Every note on the issue, newest first, across all pages of Sentry's Link header."""
        cursor: str | None = None
        while True:
            page = await self.list_comments(issue_id, cursor=cursor)
            for note in page.items:
                yield note
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def add_comment(self, issue_id: str, text: str) -> Note:
        body = {"text": redact(text)}
        return Note.model_validate(await self._json("POST", self._issue(issue_id) + "comments/", body))

    async def update_comment(self, issue_id: str, note_id: str, text: str) -> Note:
        path = self._issue(issue_id) + f"comments/{note_id}/"
        return Note.model_validate(await self._json("PUT", path, {"text": redact(text)}))

    async def update_issue(self, issue_id: str, update: IssueUpdate) -> IssueUpdateResult:
        data = await self._json("PUT", self._issue(issue_id), update.body())
        return IssueUpdateResult(body=data if isinstance(data, dict) else {})

    async def set_status(
        self, issue_id: str, status: IssueStatus, details: StatusDetails | None = None,
        substatus: str | None = None,
    ) -> IssueUpdateResult:
        update = IssueUpdate.model_validate(
            {"status": status, "status_details": details, "substatus": substatus}
        )
        return await self.update_issue(issue_id, update)

    async def assign(self, issue_id: str, assignee: str) -> IssueUpdateResult:
        return await self.update_issue(issue_id, IssueUpdate(assigned_to=assignee))

    async def list_project_issues(
        self, project: str, *, query: str | None = None, cursor: str | None = None
    ) -> Page[Issue]:
        params: dict[str, str] = {}
        if query is not None:
            params["query"] = query
        if cursor:
            params["cursor"] = cursor
        path = f"projects/{self.organization}/{project}/issues/"
        return await self._page("GET", path, Issue, params)

    async def list_org_issues(
        self, *, query: str = "is:unresolved", projects: Sequence[str] = (), stats_period: str | None = None,
        cursor: str | None = None, limit: int = 100,
    ) -> Page[Issue]:
        """One page of the organization's issues (`GET /organizations/{org}/issues/`), newest seen first."""
        params: list[tuple[str, str]] = [("query", query), ("limit", str(limit))]
        params += [("project", p) for p in projects]
        if stats_period:
            params.append(("statsPeriod", stats_period))
        if cursor:
            params.append(("cursor", cursor))
        return await self._page("GET", f"organizations/{self.organization}/issues/", Issue, params)

    async def iter_project_issues(
        self, project: str, *, query: str | None = None
    ) -> AsyncIterator[Issue]:
        cursor: str | None = None
        while True:
            page = await self.list_project_issues(project, query=query, cursor=cursor)
            for issue in page.items:
                yield issue
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _release(self, version: str) -> str:
        return f"organizations/{self.organization}/releases/{quote(version, safe='')}/"

    async def get_release(self, version: str, project: str | None = None) -> ReleaseDetails:
        """A release's dates and last deploy; with `project`, its previous release in that project."""
        params = {"project": project} if project else {}
        response = await self._request("GET", self._release(version), params=params)
        return ReleaseDetails.model_validate(response.json())

    async def list_release_commit_files(self, version: str) -> list[CommitFile]:
        data = await self._json("GET", self._release(version) + "commitfiles/")
        return TypeAdapter(list[CommitFile]).validate_python(data)

    async def get_issue_tag(self, issue_id: str, key: str) -> TagDistribution:
        path = self._issue(issue_id) + f"tags/{quote(key, safe='')}/"
        return TagDistribution.model_validate(await self._json("GET", path))

    async def list_organization_issues(
        self, query: str, stats_period: str, *, sort: str = "new", limit: int = 25
    ) -> list[Issue]:
        """One page of the organization's issues matching `query` within `stats_period`."""
        params = {"query": query, "statsPeriod": stats_period, "sort": sort, "limit": str(limit)}
        path = f"organizations/{self.organization}/issues/"
        return (await self._page("GET", path, Issue, params)).items

    async def get_page(
        self, path: str, params: Mapping[str, str | list[str]] | None = None
    ) -> tuple[Any, str | None]:
        """Any GET under the API root: the JSON answer and Sentry's next cursor (read API)."""
        response = await self._request("GET", path, params=params or {})
        return response.json() if response.content else {}, next_cursor(response.headers.get("link"))

    # --- the transport

    async def _page(
        self, method: str, path: str, model: type[T], params: dict[str, str] | list[tuple[str, str]]
    ) -> Page[T]:
        response = await self._request(method, path, params=params)
        items = TypeAdapter(list[model]).validate_python(response.json())  # type: ignore[valid-type]
        hits = response.headers.get("x-hits", "")
        return Page(items=items, next_cursor=next_cursor(response.headers.get("link")),
                    hits=int(hits) if hits.isdigit() else None)

    async def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._request(method, path, json=body)
        return response.json() if response.content else {}

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        stop: stop_base = stop_after_attempt(self._max_attempts)
        if self._retry_budget_s is not None:
            stop = stop | stop_before_delay(self._retry_budget_s)  # no backoff sleep past the budget
        retrying = AsyncRetrying(
            stop=stop, retry=retry_if_exception(self._retry_here), wait=self._wait, sleep=self._sleep, reraise=True,
        )
        try:
            async with asyncio.timeout(self._retry_budget_s):  # a slow try is cut at the budget too
                async for attempt in retrying:
                    with attempt:
                        return await self._attempt(method, path, **kwargs)
        except TimeoutError:
            if self._retry_budget_s is None:
                raise
            api_path = self._http.base_url.join(path).path
            raise SentryTransportError(None, "RetryBudgetSpent", method, api_path) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_cap_s(self) -> float | None:
        """The longest wait this call may sleep: `max_wait_s`, and half the job's time left."""
        deadline = JOB_DEADLINE.get()
        if self._max_wait_s is None or deadline is None:
            return self._max_wait_s
        return max(0.0, min(self._max_wait_s, (deadline - time.monotonic()) / 2))

    def _retry_here(self, exc: BaseException) -> bool:
        """Short transient faults are retried in the call; a 429 asking for a longer wait than
        this client sleeps ends the call (a job defers itself by it)."""
        wait_cap_s = self._wait_cap_s()
        if isinstance(exc, SentryRateLimited) and wait_cap_s is not None:
            return exc.retry_after_s <= wait_cap_s
        return isinstance(exc, SentryError) and exc.transient

    async def _attempt(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._limiter is not None:
            wait_s = await self._limiter.acquire(max_wait_s=self._wait_cap_s())  # longer: BudgetWait
            if wait_s > 0:
                self.rate_limit_waits += 1
                self.rate_limit_wait_s += wait_s
                await self._sleep(wait_s)
        started = time.perf_counter()
        status: int | None = None
        try:
            async with self._in_flight.slot():
                response = await self._http.request(method, path, **kwargs)
            status = response.status_code
        except httpx.HTTPError as exc:
            api_path = self._http.base_url.join(path).path
            raise SentryTransportError(None, type(exc).__name__, method, api_path) from None
        finally:
            if self._on_call is not None:
                self._on_call(method, endpoint_name(path), status, time.perf_counter() - started)
        await self._learn(response)
        if response.is_success:
            return response
        raise error_for(
            response.status_code, _detail(response), method, response.request.url.path,
            retry_after_s(response, time.time()),
        )

    async def _learn(self, response: httpx.Response) -> None:
        """Sentry says how much budget is left: when it is spent, every worker waits for reset;
        and how many requests may be in flight at once, which narrows this client's gate."""
        concurrent = response.headers.get("x-sentry-rate-limit-concurrentlimit", "")
        if concurrent.isdigit():
            left = response.headers.get("x-sentry-rate-limit-concurrentremaining", "")
            self._in_flight.learn(int(concurrent), int(left) if left.isdigit() else None)
        remaining = response.headers.get("x-sentry-rate-limit-remaining")
        reset = response.headers.get("x-sentry-rate-limit-reset", "")
        if self._limiter is not None and remaining == "0" and reset.isdigit():
            await self._limiter.block_until(float(reset))



def _detail(response: httpx.Response) -> str:
    """Sentry's reason: `{"detail": ...}`, or a serializer's per-field lists flattened to
    `assignedTo: Unable to resolve actor identifier` (nested: `statusDetails.inNextRelease: ...`)."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:500]
    if isinstance(data, dict):
        return "; ".join(_field_errors(data))[:500]
    return str(data)[:200]


def _field_errors(data: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, value in data.items():
        if isinstance(value, dict):
            out += _field_errors(value, f"{prefix}{name}.")
        else:
            messages = value if isinstance(value, list) else [value]
            out.append(f"{prefix}{name}: " + " ".join(str(m) for m in messages))
    return out
