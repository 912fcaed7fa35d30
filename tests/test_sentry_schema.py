"""Every request the client can make, checked against Sentry's published OpenAPI schema.

The notes (comments) endpoint is not in the schema; it is checked against the facts in
tests/fixtures/sentry-api/SOURCES.md instead. The schema's own response examples must parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

import httpx
import pytest

from shared.sentry.client import SentryClient
from shared.sentry.models import Event, Issue, StatusDetails
from tests.conftest import OPENAPI, TOKEN

ORG_ISSUE = "/api/0/organizations/{organization_id_or_slug}/issues/{issue_id}/"
NOTES = re.compile(r"^/api/0/organizations/[^/]+/issues/[^/]+/(?:comments|notes)/(?:[^/]+/)?$")


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(OPENAPI.read_text())
    return data


def template_for(path: str) -> str | None:
    for template in schema()["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            return str(template)
    return None


def check_body(operation: dict[str, Any], body: dict[str, Any]) -> None:
    props = operation["requestBody"]["content"]["application/json"]["schema"]["properties"]
    for name, value in body.items():
        assert name in props, f"{name} is not a field of the schema's request body"
        spec = props[name]
        if "enum" in spec:
            assert value in spec["enum"], f"{name}={value!r} not in {spec['enum']}"
        if "allOf" in spec:
            sub = spec["allOf"][0]["properties"]
            for key, inner in value.items():
                assert key in sub, f"{name}.{key} is not in the schema"
                if "maximum" in sub[key]:
                    assert inner <= sub[key]["maximum"]


Call = Callable[[SentryClient], Awaitable[Any]]
CALLS: list[tuple[str, Call]] = [
    ("get issue", lambda c: c.get_issue("1")),
    ("list events", lambda c: c.list_issue_events("1")),
    ("latest event", lambda c: c.get_event("1", "latest")),
    ("recommended event", lambda c: c.get_event("1", "recommended")),
    ("resolve", lambda c: c.set_status("1", "resolved")),
    ("resolve next release", lambda c: c.set_status("1", "resolvedInNextRelease", StatusDetails(in_next_release=True))),
    ("unresolve", lambda c: c.set_status("1", "unresolved")),
    ("ignore for", lambda c: c.set_status("1", "ignored", StatusDetails(ignore_duration=60))),
    ("ignore count", lambda c: c.set_status("1", "ignored", StatusDetails(ignore_count=10, ignore_window=60))),
    ("ignore users", lambda c: c.set_status("1", "ignored", StatusDetails(ignore_user_count=5, ignore_user_window=60))),
    ("ignore until escalating", lambda c: c.set_status("1", "ignored", substatus="archived_until_escalating")),
    ("assign user", lambda c: c.assign("1", "user:2")),
    ("assign team", lambda c: c.assign("1", "team:3")),
    ("project issues", lambda c: c.list_project_issues("front-end", query="is:unresolved")),
    ("release", lambda c: c.get_release("backend@2.4.1", "7")),
    ("release commit files", lambda c: c.list_release_commit_files("backend@2.4.1")),
    ("issue tag", lambda c: c.get_issue_tag("1", "server_name")),
    ("organization issues", lambda c: c.list_organization_issues("firstSeen:>=2026-11-24T09:00:00", "6h")),
]


def answer(request: httpx.Request) -> httpx.Response:
    if "/releases/" in request.url.path:
        shape: object = [] if request.url.path.endswith("/commitfiles/") else {"version": "backend@2.4.1"}
        return httpx.Response(200, json=shape)
    if "/tags/" in request.url.path:
        return httpx.Response(200, json={"key": "server_name"})
    if request.method == "GET" and not request.url.path.endswith(("/events/", "/issues/")):
        return httpx.Response(200, json={"id": "1"})
    return httpx.Response(200, json=[] if request.method == "GET" else {})


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
async def test_every_request_matches_the_schema(name: str, call: Call) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    client = SentryClient("https://us.sentry.io/api/0/", TOKEN, "my-org", transport=httpx.MockTransport(handler))
    await call(client)
    request = seen[0]
    template = template_for(request.url.path)
    assert template is not None, f"{request.url.path} is not a path of Sentry's schema"
    operation = schema()["paths"][template].get(request.method.lower())
    assert operation is not None, f"{request.method} {template} is not in the schema"
    if request.content:
        check_body(operation, json.loads(request.content))
    params = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    assert set(request.url.params) <= params | {"cursor"}, set(request.url.params) - params
    for spec in operation.get("parameters", []):  # and each value is one the schema allows
        allowed = spec.get("schema", {}).get("enum") or spec.get("schema", {}).get("items", {}).get("enum")
        for value in request.url.params.get_list(spec["name"]) if allowed else []:
            assert value in allowed, f"{spec['name']}={value!r} not in {allowed}"


@pytest.mark.parametrize("method", ["list", "add", "update"])
async def test_notes_requests_follow_sentrys_notes_endpoint(method: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[] if request.method == "GET" else {"id": "9", "data": {"text": "x"}})

    client = SentryClient("https://sentry.io/api/0/", TOKEN, "my-org", transport=httpx.MockTransport(handler))
    if method == "list":
        await client.list_comments("1")
    elif method == "add":
        await client.add_comment("1", "hello")
    else:
        await client.update_comment("1", "9", "hello")
    request = seen[0]
    assert NOTES.match(request.url.path)
    assert request.method == {"list": "GET", "add": "POST", "update": "PUT"}[method]
    if request.content:
        assert set(json.loads(request.content)) == {"text"}


def examples(path: str, method: str = "get") -> list[Any]:
    content = schema()["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    return [example["value"] for example in content.get("examples", {}).values()]


def test_the_schemas_issue_examples_parse() -> None:
    values = examples(ORG_ISSUE)
    assert values
    for value in values:
        issue = Issue.model_validate(value)
        assert issue.id and isinstance(issue.count, int)


def test_the_schemas_event_examples_parse_with_frames() -> None:
    values = examples(ORG_ISSUE + "events/{event_id}/")
    assert values
    for value in values:
        event = Event.model_validate(value)
        assert event.exceptions() and event.exceptions()[0].frames


def test_the_schemas_project_issue_list_examples_parse() -> None:
    path = "/api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/issues/"
    for value in examples(path):
        for item in value:
            Issue.model_validate(item)
