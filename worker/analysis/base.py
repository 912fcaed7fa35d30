"""What every analysis handler sees and returns. Handlers are pure: no I/O, no clock, no Redis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.sentry.models import Event, Issue
from worker.analysis.facts import Facts


@dataclass(frozen=True)
class AnalysisContext:
    """One delivery's facts: the webhook it came from, the issue, its latest event, and what the
    fetch step gathered around them (release, tags, related issues: `facts`)."""

    resource: str
    action: str
    issue: Issue
    event: Event | None
    now: datetime
    options: dict[str, Any] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)
    actor: dict[str, Any] | None = None  # the delivery's actor: {"type", "id", "name"}; Sentry is application/sentry


class Finding(BaseModel):
    """One handler's conclusion; `data` is what templates and rules can use; `source` names the
    Sentry data it came from (an endpoint and field), so every number can be traced."""

    handler: str
    summary: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    source: str = ""


Handler = Callable[[AnalysisContext], Finding | None]
