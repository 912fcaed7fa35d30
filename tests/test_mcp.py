"""The MCP server, driven by the SDK's own client: in process, over streamable HTTP on the gateway
(behind a service token) and over stdio (`sentry-responder mcp` as a real process)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from devtools.embedded_redis import EmbeddedRedis
from gateway.sentry_api.mcp_server import build_mcp
from gateway.sentry_api.state import SentryApi
from gateway.sentry_api.stdio import LOCAL
from standin.app import DEMO_TOKEN
from tests import processes
from tests.sentry_api_helpers import ACTOR, READER, SERVICE_TOKENS, ApiRig, MakeRig

TOOLS = {"list_projects", "project_stats", "list_issues", "get_issue", "issue_events", "event_stacktrace",
         "issue_digest", "customer_events", "act_on_issue"}
SECRET = "ghp_0123456789abcdefghijABCDEFGHIJ012345"


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


def text(result: Any) -> str:
    assert not result.is_error, result.content
    return "".join(getattr(part, "text", "") for part in result.content)


def api_of(rig: ApiRig) -> SentryApi:
    api: SentryApi = rig.app.state.sentry_api
    return api


async def test_tools_have_typed_inputs_and_outputs_and_answer(api_rig: MakeRig) -> None:
    rig = await api_rig()
    actor = next(t for t in api_of(rig).tokens if t.name == "triage-agent")
    async with Client(build_mcp(api_of(rig), local=actor)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) >= TOOLS
        assert tools["get_issue"].output_schema and tools["get_issue"].input_schema["required"] == ["issue_id"]
        assert "actions" in tools["act_on_issue"].input_schema["properties"]
        page = structured(await client.call_tool("list_issues", {"status": "unresolved", "limit": 2}))
        assert len(page["issues"]) == 2 and page["next_cursor"]
        detail = structured(await client.call_tool("get_issue", {"issue_id": "4001"}))
        assert detail["issue"]["id"] == "4001" and detail["stacktrace"]["exceptions"][0]["frames"][0]["in_app"]
        stats = structured(await client.call_tool("project_stats", {"project": "backend", "period": "7d"}))
        assert stats["received"] > 0
        events = structured(await client.call_tool(
            "customer_events", {"user_id": "550747", "at": "2020-06-17T22:28:00Z", "window": "5m"}))
        assert [e["issue_id"] for e in events["events"]] == ["1"]
        rig.sentry.events["1"]["title"] = f"push failed with {SECRET}"
        digest = text(await client.call_tool("issue_digest", {"issue_id": "1", "max_chars": 1000}))
        assert "Issue" in digest and SECRET not in digest
        queued = structured(await client.call_tool(
            "act_on_issue", {"issue_id": "4002", "actions": {"comment": "Looking."}, "idempotency_key": "m-1"}))
        assert queued["status"] == "queued" and queued["job_id"].startswith("act-")
        bad = await client.call_tool("get_issue", {"issue_id": "not-a-number"})
        assert bad.is_error
        missing = await client.call_tool("get_issue", {"issue_id": "999999"})
        assert missing.is_error and "not_found" in text_of(missing)
    counted = api_of(rig).metrics
    assert counted is not None  # the gateway's metrics count calls by tool and status class
    calls = counted.registry.get_sample_value
    assert calls("responder_api_calls_total", {"surface": "mcp", "route": "get_issue", "status_class": "2xx"}) == 1
    assert calls("responder_api_calls_total", {"surface": "mcp", "route": "get_issue", "status_class": "4xx"}) == 1
    assert calls("responder_api_calls_total", {"surface": "mcp", "route": "act_on_issue", "status_class": "2xx"}) == 1


def text_of(result: Any) -> str:
    return "".join(getattr(part, "text", "") for part in result.content)


async def test_a_read_only_caller_cannot_act(api_rig: MakeRig) -> None:
    rig = await api_rig()
    async with Client(build_mcp(api_of(rig), local=LOCAL)) as client:
        refused = await client.call_tool("act_on_issue", {"issue_id": "4001", "actions": {"resolve": True}})
        assert refused.is_error and "read+act" in text_of(refused)
        assert structured(await client.call_tool("list_projects", {}))["projects"]
    assert not rig.sentry.updates


def http_client(rig: ApiRig, token: str | None) -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=rig.app), headers=headers)


async def test_streamable_http_on_the_gateway_behind_a_service_token(api_rig: MakeRig) -> None:
    rig = await api_rig()
    url = "http://127.0.0.1:8000/api/sentry/mcp"
    async with http_client(rig, READER) as http, Client(streamable_http_client(url, http_client=http)) as client:
        assert {t.name for t in (await client.list_tools()).tools} >= TOOLS
        assert structured(await client.call_tool("get_issue", {"issue_id": "4003"}))["issue"]["id"] == "4003"
        refused = await client.call_tool("act_on_issue", {"issue_id": "4003", "actions": {"resolve": True}})
        assert refused.is_error and "read+act" in text_of(refused)
    async with http_client(rig, ACTOR) as http, Client(streamable_http_client(url, http_client=http)) as client:
        queued = structured(await client.call_tool("act_on_issue", {"issue_id": "4003", "actions": {"resolve": True}}))
        assert queued["status"] == "queued"
    async with http_client(rig, None) as http:
        anonymous = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"


async def test_get_and_delete_on_the_http_endpoint_answer_405_at_once(api_rig: MakeRig) -> None:
    """Stateless JSON answers: a GET must not hold a connection open waiting for a stream (review)."""
    rig = await api_rig()
    async with http_client(rig, READER) as http:
        for method in ("GET", "DELETE"):
            response = await asyncio.wait_for(http.request(method, "http://127.0.0.1:8000/api/sentry/mcp"), 10)
            assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


async def test_stdio_server_as_a_real_process(redis_server: EmbeddedRedis) -> None:
    with processes.standin() as standin_url:
        env = {
            "PATH": os.environ.get("PATH", ""), "REDIS_URL": redis_server.url, "SENTRY_AUTH_TOKEN": DEMO_TOKEN,
            "SENTRY_ORGANIZATION": "demo-org", "SENTRY_BASE_URL": standin_url + "/api/0/",
            "RESPONDER_SERVICE_TOKENS": SERVICE_TOKENS, "RESPONDER_LOG_FORMAT": "json",
        }
        params = StdioServerParameters(command=sys.executable, args=["-m", "cli.main", "mcp", "--as", "support-bot"],
                                       env=env, cwd=os.getcwd())
        async with Client(params, read_timeout_seconds=30) as client:
            assert {t.name for t in (await client.list_tools()).tools} >= TOOLS
            detail = structured(await client.call_tool("get_issue", {"issue_id": "4002"}))
            assert detail["stacktrace"]["platform"] == "java"
            refused = await client.call_tool("act_on_issue", {"issue_id": "4002", "actions": {"resolve": True}})
            assert refused.is_error  # support-bot is read-only


async def test_a_failure_nothing_expected_counts_as_5xx(api_rig: MakeRig, monkeypatch: Any) -> None:
    rig = await api_rig()
    api = api_of(rig)
    assert api.service is not None

    async def broken() -> None:
        raise RuntimeError("a bug, not a refusal")

    monkeypatch.setattr(api.service, "projects", broken)
    async with Client(build_mcp(api, local=LOCAL)) as client:
        assert (await client.call_tool("list_projects", {})).is_error
    assert api.metrics is not None
    calls = api.metrics.registry.get_sample_value
    assert calls("responder_api_calls_total", {"surface": "mcp", "route": "list_projects", "status_class": "5xx"}) == 1
    assert calls("responder_api_calls_total", {"surface": "mcp", "route": "list_projects", "status_class": "2xx"}) is None
