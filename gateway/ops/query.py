"""The jobs API's query: parameters validated at the edge, and an opaque, stable cursor."""

from __future__ import annotations

import base64
import binascii
import json

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.jobs import JobState

Cursor = tuple[float, str]


class JobQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: JobState | None = None
    resource: str | None = Field(None, max_length=64)  # "issue" or "issue.created"
    issue_id: str | None = Field(None, max_length=64)
    installation: str | None = Field(None, max_length=64)  # a public integration's installation uuid
    organization: str | None = Field(None, max_length=100)  # its organization (resolved to the uuid)
    since: float | None = Field(None, ge=0)  # epoch seconds, on the time received
    until: float | None = Field(None, ge=0)
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=200)

    @field_validator("cursor")
    @classmethod
    def _cursor_decodes(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)
        return value

    def matches(self, row: dict[str, str]) -> bool:
        if self.resource is not None and self.resource not in (
            row.get("resource"), f"{row.get('resource')}.{row.get('action')}"
        ):
            return False
        if self.issue_id is not None and row.get("issue_id") != self.issue_id:
            return False
        if self.installation is not None and row.get("installation") != self.installation:
            return False
        received = float(row.get("received_at") or 0)
        if self.since is not None and received < self.since:
            return False
        return not (self.until is not None and received > self.until)


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps([cursor[0], cursor[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    try:
        score, ident = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return float(score), str(ident)
    except (ValueError, TypeError, binascii.Error):
        raise ValueError("not a cursor this API gave out") from None
