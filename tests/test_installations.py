"""A public integration's whole installation lifecycle on a real Redis, against a mocked Sentry that
issues, expires and checks installation tokens per organization."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from redis.asyncio import Redis
from structlog.testing import capture_logs

from shared import keys
from shared.installations import InstallationStore, TokenCipher, TokenSet
from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.sentry.errors import SentryServerError
from shared.sentry.installs import InstallationTokens, NotInstalled
from shared.settings import Settings
from tests.helpers import SECRET, load_webhook, signed_headers, wire_bytes
from worker.job import process_delivery
from worker.main import shutdown, startup

CLIENT_ID = "public-app-client-id"
BASE = "https://sentry.test/api/0/"
AUTHORIZE = re.compile(r"^/api/0/sentry-app-installations/(?P<uuid>[^/]+)/authorizations/$")
ORG_PATH = re.compile(r"^/api/0/organizations/(?P<org>[^/]+)/issues/(?P<issue>[^/]+)/(?P<rest>.*)$")


@dataclass
class PublicSentry:
    """Grants tokens per installation, refreshes them, and serves each organization only to its own."""

    lifetime: timedelta = timedelta(hours=8)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (installation, org)
    tokens: dict[str, str] = field(default_factory=dict)  # live token -> org
    refresh: dict[str, tuple[str, str]] = field(default_factory=dict)  # refresh token -> (installation, org)
    refreshes: int = 0
    comments: list[tuple[str, str, str]] = field(default_factory=list)  # (org, issue, token)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def grant(self, installation: str, organization: str) -> str:
        code = f"code-{next(self._ids)}"
        self.codes[code] = (installation, organization)
        return code

    def _issue(self, installation: str, organization: str) -> dict[str, Any]:
        n = next(self._ids)
        token, refresh = f"tok-{organization}-{n}", f"ref-{organization}-{n}"
        self.tokens[token] = organization
        self.refresh[refresh] = (installation, organization)
        expires = (datetime.now(UTC) + self.lifetime).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {"id": str(n), "token": token, "refreshToken": refresh, "expiresAt": expires, "scopes": []}

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # a real round trip, so concurrent refreshes overlap
        if m := AUTHORIZE.match(request.url.path):
            body = json.loads(request.content)
            if body.get("client_id") != CLIENT_ID or body.get("client_secret") != SECRET:
                return httpx.Response(401, json={"detail": "Invalid client"})
            if body["grant_type"] == "authorization_code":
                installation, org = self.codes.pop(body["code"])
            else:
                installation, org = self.refresh.pop(body["refresh_token"])
                self.refreshes += 1
            assert installation == m["uuid"]
            return httpx.Response(201, json=self._issue(installation, org))
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        m = ORG_PATH.match(request.url.path)
        if m is None or token not in self.tokens:
            return httpx.Response(401, json={"detail": "Invalid token"})
        if self.tokens[token] != m["org"]:
            return httpx.Response(403, json={"detail": "You do not have permission"})
        issue = copy.deepcopy(load_webhook("issue.created")["data"]["issue"]) | {"id": m["issue"]}
        if m["rest"] == "":
            return httpx.Response(200, json=issue)
        if m["rest"].startswith("events/"):
            return httpx.Response(404, json={"detail": "no events"})
        if m["rest"] == "comments/" and request.method == "POST":
            self.comments.append((m["org"], m["issue"], token))
            return httpx.Response(201, json={"id": str(next(self._ids)), "type": "note",
                                              "data": json.loads(request.content), "dateCreated": "2026-11-24T00:00:00Z"})
        if m["rest"] == "comments/":
            return httpx.Response(200, json=[])
        return httpx.Response(404, json={"detail": "not here"})


@dataclass
class Public:
    sentry: PublicSentry
    settings: Settings
    gateway: httpx.AsyncClient
    redis: Redis
    ctx: dict[str, Any]

    async def post(self, name: str, installation: str, **data: Any) -> str:
        payload = copy.deepcopy(load_webhook(name))
        payload["installation"] = {"uuid": installation}
        for path, value in data.items():
            target = payload["data"]
            *parents, leaf = path.split("__")
            for part in parents:
                target = target[part]
            target[leaf] = value
        body = wire_bytes(payload)
        headers = signed_headers(body, name.split(".")[0])
        answer = await self.gateway.post("/webhooks/sentry", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        return headers["Request-ID"]

    async def install(self, installation: str, organization: str) -> str:
        code = self.sentry.grant(installation, organization)
        delivery_id = await self.post(
            "installation.created", installation, installation__uuid=installation, installation__code=code,
            installation__organization={"slug": organization},
        )
        assert await self.run(delivery_id) == "succeeded"
        return delivery_id

    async def run(self, delivery_id: str) -> str:
        result: str = await process_delivery(self.ctx | {"job_try": 1}, delivery_id)
        return result

    async def record(self, delivery_id: str) -> Any:
        return await JobStore(self.redis).get(delivery_id)


@pytest.fixture
async def public(
    client_for: Callable[..., Any], redis: Redis, make_settings: Callable[..., Settings],
) -> AsyncIterator[Public]:
    values = {"SENTRY_CLIENT_ID": CLIENT_ID, "RESPONDER_TOKEN_KEY": Fernet.generate_key().decode(),
              "SENTRY_BASE_URL": BASE, "RESPONDER_QUIET_WINDOW_S": "0"}
    settings = make_settings(**values)
    assert settings.mode == "public" and not settings.dry_run
    sentry = PublicSentry()
    ctx: dict[str, Any] = {"settings": settings, "redis": redis, "sentry_transport": sentry.transport()}
    await startup(ctx)
    try:
        yield Public(sentry, settings, await client_for(**values), redis, ctx)
    finally:
        await shutdown(ctx)


UUID_A = "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"
UUID_B = "b1111111-2222-4333-8444-555555555555"


async def test_install_stores_tokens_encrypted_and_never_logged(public: Public) -> None:
    with capture_logs() as logs:
        await public.install(UUID_A, "org-a")
    store = InstallationStore(public.redis, TokenCipher(public.settings.token_keys))
    tokens = await store.tokens(UUID_A)
    assert tokens is not None and tokens.token.get_secret_value().startswith("tok-org-a-")
    assert await store.for_organization("org-a") == UUID_A
    secret_values = [tokens.token.get_secret_value(), tokens.refresh_token.get_secret_value()]
    raw = b"".join(v for v in (await public.redis.hgetall(keys.installation(UUID_A))).values())
    everything = raw.decode(errors="replace") + repr(logs) + repr(await public.redis.hgetall("responder:job:x"))
    for key in [k async for k in public.redis.scan_iter("responder:job:*")]:
        everything += repr(await public.redis.hgetall(key))
    for value in secret_values:
        assert value not in everything
    assert repr(tokens).count("**********") == 2  # SecretStr: not even a repr shows them


async def test_a_job_uses_its_installation_token(public: Public) -> None:
    await public.install(UUID_A, "org-a")
    delivery_id = await public.post("issue.created", UUID_A, issue__id="9100")
    assert await public.run(delivery_id) == "succeeded"
    record = await public.record(delivery_id)
    assert record.installation == UUID_A and record.dry_run is False
    [(org, issue, token)] = public.sentry.comments
    assert (org, issue) == ("org-a", "9100") and token.startswith("tok-org-a-")


async def test_an_expiring_token_is_refreshed_once_by_two_workers_at_once(public: Public) -> None:
    public.sentry.lifetime = timedelta(seconds=60)  # inside the five-minute refresh margin
    await public.install(UUID_A, "org-a")
    store = InstallationStore(public.redis, TokenCipher(public.settings.token_keys))
    first_token = (await store.tokens(UUID_A)).token.get_secret_value()  # type: ignore[union-attr]
    public.sentry.lifetime = timedelta(hours=8)
    connections = [Redis.from_url(public.settings.redis_url) for _ in range(2)]  # two worker processes
    workers = [
        InstallationTokens(InstallationStore(c, TokenCipher(public.settings.token_keys)), c, BASE, CLIENT_ID,
                           SECRET, transport=public.sentry.transport())
        for c in connections
    ]
    try:
        got = await asyncio.gather(*(w.token(UUID_A) for w in workers for _ in range(3)))
    finally:
        for w, c in zip(workers, connections, strict=True):
            await w.aclose()
            await c.aclose()
    assert public.sentry.refreshes == 1
    assert len(set(got)) == 1 and got[0] != first_token
    assert got[0] in public.sentry.tokens


async def test_uninstall_deletes_tokens_and_skips_queued_jobs(public: Public) -> None:
    await public.install(UUID_A, "org-a")
    queued = await public.post("issue.created", UUID_A, issue__id="9200")
    # Sentry sends installation.deleted in the shape of installation.created, without a code.
    body_payload = copy.deepcopy(load_webhook("installation.created"))
    body_payload["action"] = "deleted"
    body_payload["installation"] = {"uuid": UUID_A}
    body_payload["data"]["installation"] |= {"uuid": UUID_A, "organization": {"slug": "org-a"}, "code": None}
    body = wire_bytes(body_payload)
    headers = signed_headers(body, "installation")
    assert (await public.gateway.post("/webhooks/sentry", content=body, headers=headers)).status_code == 202
    removal = headers["Request-ID"]
    assert await public.run(removal) == "succeeded"
    assert not await public.redis.exists(keys.installation(UUID_A))
    assert await public.redis.hget(keys.INSTALLATIONS_BY_ORG, "org-a") is None

    assert await public.run(queued) == "skipped"
    record = await public.record(queued)
    assert record.state is JobState.SKIPPED and "uninstalled" in record.reason
    assert public.sentry.comments == []


async def test_two_organizations_side_by_side_never_cross_tokens(public: Public) -> None:
    await public.install(UUID_A, "org-a")
    await public.install(UUID_B, "org-b")
    ids = []
    for n in range(3):
        ids.append(await public.post("issue.created", UUID_A, issue__id=f"93{n}0"))
        ids.append(await public.post("issue.created", UUID_B, issue__id=f"93{n}1"))
    results = await asyncio.gather(*(public.run(i) for i in ids))
    assert results == ["succeeded"] * 6
    assert len(public.sentry.comments) == 6
    for org, issue, token in public.sentry.comments:
        assert token.startswith(f"tok-{org}-")
        assert issue.endswith("0" if org == "org-a" else "1")
    # each organization has a budget of its own
    assert await public.redis.exists("responder:ratelimit:org:org-a", "responder:ratelimit:org:org-b") == 2


async def test_the_dashboard_api_filters_by_organization_and_shows_the_mode(public: Public) -> None:
    await public.install(UUID_A, "org-a")
    await public.install(UUID_B, "org-b")
    a = await public.post("issue.created", UUID_A, issue__id="9400")
    b = await public.post("issue.created", UUID_B, issue__id="9401")
    only_a = (await public.gateway.get("/api/jobs", params={"organization": "org-a", "resource": "issue"})).json()
    assert [j["id"] for j in only_a["jobs"]] == [a]
    only_b = (await public.gateway.get("/api/jobs", params={"installation": UUID_B, "resource": "issue"})).json()
    assert [j["id"] for j in only_b["jobs"]] == [b]
    nobody = (await public.gateway.get("/api/jobs", params={"organization": "org-z"})).json()
    assert nobody == {"jobs": [], "next_cursor": None}
    stats = (await public.gateway.get("/api/stats")).json()
    assert stats["mode"] == "public" and stats["organizations"] == ["org-a", "org-b"]
    assert "public integration" in (await public.gateway.get("/")).text


def test_a_token_key_that_is_not_a_fernet_key_stops_the_worker(make_settings: Callable[..., Settings]) -> None:
    from shared.settings import SettingsError

    settings = make_settings(SENTRY_CLIENT_ID=CLIENT_ID, RESPONDER_TOKEN_KEY="hunter2")
    with pytest.raises(SettingsError, match="RESPONDER_TOKEN_KEY: not a Fernet key") as caught:
        settings.require_sentry()
    assert "hunter2" not in str(caught.value)
    with pytest.raises(SettingsError, match="RESPONDER_TOKEN_KEY: required"):
        make_settings(SENTRY_CLIENT_ID=CLIENT_ID).require_sentry()


async def test_a_token_answer_sentry_did_not_finish_fails_without_quoting_the_token(redis: Redis) -> None:
    """pydantic's error would quote the answer, tokens and all; the error names only what failed."""
    answer = {"token": "tok-leaky", "refreshToken": "ref-leaky"}  # no expiresAt
    transport = httpx.MockTransport(lambda request: httpx.Response(201, json=answer))
    store = InstallationStore(redis, TokenCipher([SecretStr(Fernet.generate_key().decode())]))
    tokens = InstallationTokens(store, redis, BASE, CLIENT_ID, SECRET, transport=transport)
    try:
        with capture_logs() as logs, pytest.raises(SentryServerError) as caught:
            await tokens.install(UUID_A, "code-1", "org-a")
    finally:
        await tokens.aclose()
    assert caught.value.transient and "not understood" in str(caught.value)
    assert "leaky" not in repr(caught.value) + str(caught.value.__context__) + repr(logs)
    assert await store.tokens(UUID_A) is None


async def test_a_refresh_that_ends_after_uninstall_does_not_bring_the_tokens_back(redis: Redis) -> None:
    store = InstallationStore(redis, TokenCipher([SecretStr(Fernet.generate_key().decode())]))
    expiring = TokenSet.model_validate(
        {"token": "tok-old", "refresh_token": "ref-old", "expires_at": datetime.now(UTC) + timedelta(seconds=5)}
    )
    await store.save(UUID_A, "org-a", expiring, 0.0)
    fresh = {"token": "tok-new", "refreshToken": "ref-new", "expiresAt": "2099-01-01T00:00:00Z"}

    async def sentry(request: httpx.Request) -> httpx.Response:
        await store.remove(UUID_A, keep_marker_s=60)  # uninstalled while the refresh is in flight
        return httpx.Response(201, json=fresh)

    tokens = InstallationTokens(store, redis, BASE, CLIENT_ID, SECRET, transport=httpx.MockTransport(sentry))
    try:
        with pytest.raises(NotInstalled):
            await tokens.token(UUID_A)
    finally:
        await tokens.aclose()
    assert await store.tokens(UUID_A) is None and not await redis.exists(keys.installation(UUID_A))
