"""The job record: what the status store keeps for every delivery, and its states."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    SKIPPED = "skipped"
    COALESCED = "coalesced"  # folded into another job for the same issue (event storms)


FINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.DEAD, JobState.SKIPPED, JobState.COALESCED}
)
REPLAYABLE_STATES = frozenset({JobState.DEAD, JobState.FAILED})


class Delivery(BaseModel):
    """The queue contract: what the gateway hands the worker for one verified delivery.

    JSON-safe on purpose: the worker validates `body` again with the same webhook model.
    """

    id: str
    resource: str
    action: str
    received_at: float
    issue_id: str | None = None
    installation_uuid: str | None = None
    body: dict[str, Any] = Field(default_factory=dict)

    def to_json(self, raw_body: bytes = b"") -> str:
        """This delivery as JSON, splicing in the verified raw body rather than re-encoding it
        (re-encoding a 4 KB payload is most of the cost of taking a delivery)."""
        if raw_body.strip():
            try:
                body_text = raw_body.decode()
            except UnicodeDecodeError:  # valid JSON in UTF-16/32: encode it the slow way
                return self.model_dump_json()
            return self.model_dump_json(exclude={"body"})[:-1] + ',"body":' + body_text + "}"
        return self.model_dump_json()


class JobRecord(BaseModel):
    """One delivery's life, as the dashboard and the jobs API show it."""

    id: str
    resource: str
    action: str
    state: JobState
    issue_id: str | None = None
    installation: str | None = None  # the public integration's installation it came through
    received_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    replays: int = 0
    reason: str | None = None
    error: str | None = None
    dry_run: bool | None = None
    findings: list[dict[str, Any]] = Field(default_factory=list)
    plan: list[dict[str, Any]] = Field(default_factory=list)
    writeback: list[dict[str, Any]] = Field(default_factory=list)
    shadow: list[dict[str, Any]] = Field(default_factory=list)  # shadow playbooks: what they would have done
    web_url: str | None = None  # the issue's page in Sentry
    coalesced_into: str | None = None
    coalesced: int = 0
    payload: dict[str, Any] | None = None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at
