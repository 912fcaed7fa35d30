"""A small stateful Sentry behind httpx.MockTransport, for worker tests: real paths, real shapes."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import FIXTURES, load_webhook

ISSUE_PATH = re.compile(r"^/api/0/organizations/(?P<org>[^/]+)/issues/(?P<issue>[^/]+)/$")
EVENT_PATH = re.compile(
    r"^/api/0/organizations/(?P<org>[^/]+)/issues/(?P<issue>[^/]+)/events/(?P<event>[^/]+)/$"
)
COMMENTS_PATH = re.compile(
    r"^/api/0/organizations/(?P<org>[^/]+)/issues/(?P<issue>[^/]+)/(?:comments|notes)/$"
)
NOTE_PATH = re.compile(
    r"^/api/0/organizations/(?P<org>[^/]+)/issues/(?P<issue>[^/]+)/(?:comments|notes)/(?P<note>[^/]+)/$"
)


def api_event_example() -> dict[str, Any]:
    schema = json.loads((FIXTURES / "sentry-api" / "openapi.json").read_text())
    path = "/api/0/organizations/{organization_id_or_slug}/issues/{issue_id}/events/{event_id}/"
    examples = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    value: dict[str, Any] = next(iter(examples["examples"].values()))["value"]
    return value


@dataclass
class FakeSentry:
    token: str
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer, one per call
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    @classmethod
    def seeded(cls, token: str) -> FakeSentry:
        fake = cls(token=token)
        issue = load_webhook("issue.created")["data"]["issue"]
        fake.issues[issue["id"]] = issue
        event = api_event_example()
        event["groupID"] = issue["id"]
        fake.events[issue["id"]] = event
        return fake

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def comments_on(self, issue_id: str) -> list[str]:
        return [n["data"]["text"] for n in self.notes.get(issue_id, [])]

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append((request.method, path))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"detail": "Invalid token"})
        if self.fail_next:
            return httpx.Response(self.fail_next.pop(0), json={"detail": "injected failure"})
        if m := NOTE_PATH.match(path):
            return self._note(request, m["issue"], m["note"])
        if m := COMMENTS_PATH.match(path):
            return self._comments(request, m["issue"])
        if m := EVENT_PATH.match(path):
            event = self.events.get(m["issue"])
            return httpx.Response(200, json=event) if event else self._not_found()
        if m := ISSUE_PATH.match(path):
            return self._issue(request, m["issue"])
        return self._not_found()

    def _not_found(self) -> httpx.Response:
        return httpx.Response(404, json={"detail": "The requested resource does not exist"})

    def _issue(self, request: httpx.Request, issue_id: str) -> httpx.Response:
        issue = self.issues.get(issue_id)
        if issue is None:
            return self._not_found()
        if request.method == "PUT":
            body = json.loads(request.content)
            self.updates.append((issue_id, body))
            issue.update({k: v for k, v in body.items() if k in ("status", "substatus")})
            return httpx.Response(200, json=body)
        return httpx.Response(200, json=issue)

    def _comments(self, request: httpx.Request, issue_id: str) -> httpx.Response:
        if issue_id not in self.issues:
            return self._not_found()
        notes = self.notes.setdefault(issue_id, [])
        if request.method == "POST":
            text = json.loads(request.content)["text"]
            if any(n["data"]["text"] == text for n in notes):
                return httpx.Response(400, json={"detail": "You have already posted that comment."})
            note = {
                "id": str(next(self._ids)), "type": "note", "data": {"text": text},
                "dateCreated": "2026-11-24T00:00:00Z", "user": None,
            }
            notes.insert(0, note)
            return httpx.Response(201, json=note)
        return httpx.Response(200, json=notes)

    def _note(self, request: httpx.Request, issue_id: str, note_id: str) -> httpx.Response:
        for note in self.notes.get(issue_id, []):
            if note["id"] == note_id:
                if request.method == "PUT":
                    note["data"]["text"] = json.loads(request.content)["text"]
                return httpx.Response(200, json=note)
        return self._not_found()
