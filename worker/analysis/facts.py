"""The facts the fetch step gathers beyond the issue and its event (issue 21), as handlers see them.

Each is optional: a fact that was not fetched (budget low, allowance spent, Sentry failed) is absent
and named in `skipped`, so the comment can say which enrichment it went without.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.sentry.models import CommitFile, Issue, ReleaseDetails, TagDistribution


class RelatedWindow(BaseModel):
    """Other issues of the organization first seen within `minutes` of `around`."""

    around: datetime
    minutes: int
    issues: list[Issue] = Field(default_factory=list)


class Facts(BaseModel):
    release: ReleaseDetails | None = None
    commit_files: list[CommitFile] | None = None
    tags: list[TagDistribution] = Field(default_factory=list)
    related: RelatedWindow | None = None
    root_cause: dict[str, Any] | None = None  # Seer's, from a seer.root_cause_completed delivery
    skipped: list[str] = Field(default_factory=list)  # "tags (Sentry budget low)", ...
    calls: int = 0  # Sentry calls the fetch step made for this analysis (issue and event included)


class CommitFiles(BaseModel):
    """A cacheable wrapper: a release's changed files."""

    files: list[CommitFile] = Field(default_factory=list)


class IssueList(BaseModel):
    issues: list[Issue] = Field(default_factory=list)
