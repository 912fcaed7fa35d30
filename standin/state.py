"""The stand-in's memory: the seeded organization, its issues and events, and what callers did.

Seeded from standin/seed/: Sentry's published issue and event examples (issues.json) and an
organization that agrees with them (organization.json: projects with their releases and teams,
members, the integration's proxy user, ownership per issue).
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

from standin import scenarios

DEMO_TOKEN = "sntrys_standin_demo_token"
DEMO_CLIENT_ID = "standin-client-id"
DEMO_CLIENT_SECRET = "standin-client-secret"  # a loopback stand-in's fixed demo value
GRANT_TTL_S = 600.0  # Sentry's grant codes expire ten minutes after the installation
TOKEN_TTL_S = 8 * 3600.0


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files("standin").joinpath(f"seed/{name}").read_text())
    return data


def seed() -> dict[str, Any]:
    """Sentry's published examples, and the demo stories (standin/scenarios.py) built for now."""
    return scenarios.merged(_load("issues.json"), datetime.now(UTC))


def organization_seed() -> dict[str, Any]:
    return _load("organization.json")


@dataclass
class Fault:
    status: int
    count: int
    retry_after_s: float | None = None


@dataclass
class RateLimit:
    """Sentry's per-caller budget: `limit` calls per fixed window, `concurrent` at once."""

    limit: int = 1000
    window_s: int = 1
    concurrent: int = 50


@dataclass
class Grant:
    installation: str
    expires_at: float


@dataclass
class StandinState:
    organization: str
    tokens: dict[str, str]  # token -> id of the user behind it
    latency_s: float = 0.0
    clock_offset_s: float = 0.0  # tests move the stand-in's clock (grant expiry, the duplicate-note hour)
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    rate: RateLimit = field(default_factory=RateLimit)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    note_times: dict[str, float] = field(default_factory=dict)  # note id -> epoch seconds posted
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    org: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # whatever else the seed holds (releases, tags, ...)
    installations: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # refresh -> (uuid, token)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))

    def reset(self) -> None:
        data = seed()
        self.issues = {i["id"]: i for i in copy.deepcopy(data["issues"])}
        self.events = copy.deepcopy(data["events"])
        self.extra = copy.deepcopy({k: v for k, v in data.items() if k not in ("issues", "events")})
        self.org = organization_seed()
        self.notes, self.note_times, self.updates, self.calls, self.faults = {}, {}, [], [], []

    def next_id(self) -> str:
        return str(next(self._ids))

    def now(self) -> float:
        return time.time() + self.clock_offset_s

    @property
    def integration_user(self) -> dict[str, Any]:
        user: dict[str, Any] = self.org["integration_user"]
        return user

    def user(self, user_id: str) -> dict[str, Any] | None:
        people = [*self.org["members"], self.integration_user]
        return next((u for u in people if u["id"] == user_id), None)

    def project(self, slug: str | None) -> dict[str, Any] | None:
        return next((p for p in self.org["projects"] if p["slug"] == slug), None)

    def summary(self) -> dict[str, Any]:
        by_endpoint = Counter(f"{c['method']} {c['endpoint']}" for c in self.calls)
        return {"total": len(self.calls), "by_endpoint": dict(by_endpoint), "calls": self.calls[-500:]}
