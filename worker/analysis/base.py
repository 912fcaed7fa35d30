"""What every analysis handler sees and returns. Handlers are pure: no I/O, no clock, no Redis."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.sentry.models import Event, Issue


@dataclass(frozen=True)
class AnalysisContext:
    """One delivery's facts: the webhook it came from, the issue, and its latest event."""

    resource: str
    action: str
    issue: Issue
    event: Event | None
    now: datetime
    options: dict[str, Any] = field(default_factory=dict)
    actor: dict[str, Any] | None = None  # the delivery's actor: {"type", "id", "name"}; Sentry is application/sentry


class Finding(BaseModel):
    """One handler's conclusion; `data` is what templates and rules can use."""

    handler: str
    summary: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


Handler = Callable[[AnalysisContext], Finding | None]
