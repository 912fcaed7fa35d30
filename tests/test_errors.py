"""One error body at the HTTP edge: every refusal is {"error": <snake_case code>, "detail": ...}."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.errors import error_response
from tests.helpers import delivery, signed_headers

CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def test_codes_are_snake_case() -> None:
    assert error_response(404, "not_found", "gone").body == b'{"error":"not_found","detail":"gone"}'
    with pytest.raises(ValueError):
        error_response(404, "not found")


async def test_every_route_refuses_in_one_shape(client_for: Callable[..., Any]) -> None:
    client: httpx.AsyncClient = await client_for()
    _, headers = delivery("issue.created")
    refusals = [
        await client.post("/webhooks/sentry", content=b"{}", headers={**headers, "Sentry-Hook-Signature": "x"}),
        await client.post("/webhooks/sentry", content=b"[1]", headers=signed_headers(b"[1]", "issue")),
        await client.get("/api/jobs", params={"limit": "0"}),
        await client.get("/api/jobs/nope"),
        await client.post("/api/jobs/nope/replay"),
        await client.get("/api/issues/bad%20id"),
        await client.get("/api/backtests/nope"),
        await client.get("/api/sentry/projects"),  # the read API without a service token
        await client.get("/no/such/route"),
        await client.delete("/webhooks/sentry"),
    ]
    for response in refusals:
        assert 400 <= response.status_code < 500, (response.request.url, response.text)
        answer = response.json()
        assert set(answer) >= {"error", "detail"} and CODE.match(answer["error"]), answer
