"""Sentry for worker tests: the strict stand-in (standin/) in process, behind httpx.MockTransport,
so a write-back Sentry would refuse fails here too. Adds what worker tests need on top: the
calls made, `fail_next` (statuses to answer instead, one per call) and `comments_on`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from standin.app import create_standin
from standin.state import StandinState
from tests.conftest import FIXTURES, load_webhook


def api_event_example() -> dict[str, Any]:
    schema = json.loads((FIXTURES / "sentry-api" / "openapi.json").read_text())
    path = "/api/0/organizations/{organization_id_or_slug}/issues/{issue_id}/events/{event_id}/"
    examples = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    value: dict[str, Any] = next(iter(examples["examples"].values()))["value"]
    return value


@dataclass
class FakeSentry:
    token: str
    organization: str = "test-org"
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer, one per call

    def __post_init__(self) -> None:
        self.app = create_standin(organization=self.organization, token=self.token)
        self.state: StandinState = self.app.state.standin
        self._asgi = httpx.ASGITransport(app=self.app)

    @classmethod
    def seeded(cls, token: str, organization: str = "test-org") -> FakeSentry:
        fake = cls(token=token, organization=organization)
        issue = load_webhook("issue.created")["data"]["issue"]
        fake.issues[issue["id"]] = issue
        event = api_event_example() | {"platform": issue["platform"]}
        event["groupID"] = issue["id"]
        fake.events[issue["id"]] = event
        return fake

    @property
    def issues(self) -> dict[str, dict[str, Any]]:
        return self.state.issues

    @property
    def events(self) -> dict[str, dict[str, Any]]:
        return self.state.events

    @property
    def notes(self) -> dict[str, list[dict[str, Any]]]:
        return self.state.notes

    @property
    def updates(self) -> list[dict[str, Any]]:
        return self.state.updates

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def comments_on(self, issue_id: str) -> list[str]:
        return [n["data"]["text"] for n in self.notes.get(issue_id, [])]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if request.headers.get("authorization") == f"Bearer {self.token}" and self.fail_next:
            return httpx.Response(self.fail_next.pop(0), json={"detail": "injected failure"})
        await request.aread()
        return await self._asgi.handle_async_request(request)
