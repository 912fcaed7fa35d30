"""The ops API gets the webhook route's treatment: random ids, filters and cursors never give a
5xx, and without the token nothing is served at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 120
TOKEN = "ops-fuzz-token-0123456789-0123456789abcdef"
tried: dict[str, int] = {}

hyp = settings(
    max_examples=EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
params = st.dictionaries(
    st.sampled_from(["state", "resource", "issue_id", "since", "until", "limit", "cursor", "x", "state[]"]),
    st.text(max_size=60) | st.sampled_from(["queued", "dead", "-1", "1e309", "nan", "0", "201", "eyJ9", "W10"]),
    max_size=6,
)
ids = st.text(min_size=1, max_size=80).filter(lambda t: t not in (".", ".."))


@pytest.fixture
async def ops(client_for: Callable[..., Any], redis: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await client_for(RESPONDER_DASHBOARD_TOKEN=TOKEN)
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


def check(response: httpx.Response, name: str, allowed: set[int]) -> None:
    tried[name] = tried.get(name, 0) + 1
    assert response.status_code in allowed, (response.status_code, response.text)
    assert response.status_code < 500


@hyp
@given(query=params)
async def test_random_filters_and_cursors(ops: httpx.AsyncClient, query: dict[str, str]) -> None:
    response = await ops.get("/api/jobs", params=query)
    check(response, "job filters", {200, 422})
    if response.status_code == 200:
        assert set(response.json()) == {"jobs", "next_cursor"}


@hyp
@given(job_id=ids)
async def test_random_job_ids(ops: httpx.AsyncClient, job_id: str) -> None:
    path = quote(job_id, safe="")
    check(await ops.get(f"/api/jobs/{path}"), "job ids", {404, 307})  # "/" decodes to a redirect
    check(await ops.post(f"/api/jobs/{path}/replay"), "replay ids", {404, 405, 307})


@hyp
@given(ident=ids, body=st.binary(max_size=80) | st.sampled_from([b'{"by": 1}', b'{"by": "a\\u0000"}', b"[]", b"null"]))
async def test_random_issue_ids_and_undo_bodies(ops: httpx.AsyncClient, ident: str, body: bytes) -> None:
    path = quote(ident, safe="")
    check(await ops.get(f"/api/issues/{path}"), "issue ids", {200, 422, 404, 307})
    check(await ops.post(f"/api/jobs/{path}/undo", content=body), "undo", {404, 422, 405, 307})


@hyp
@given(token=st.text(max_size=60), path=st.sampled_from(["/api/jobs", "/api/stats", "/api/dead", "/"]))
async def test_random_tokens_are_refused(ops: httpx.AsyncClient, token: str, path: str) -> None:
    response = await ops.get(path, headers={"Authorization": f"Bearer {token.encode('ascii', 'ignore').decode()}"})
    check(response, "tokens", {401, 429})  # 429: the failed sign-in throttle took over
    assert TOKEN not in response.text


def test_zz_report_how_many_inputs_were_tried() -> None:
    total = sum(tried.values())
    print(f"\nops API fuzzing: {total} inputs tried: {json.dumps(tried)}")
    assert total >= 3 * EXAMPLES
