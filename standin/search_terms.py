"""Search terms the stand-in understands beyond `is:` and title words: `firstSeen` bounds.

Sentry's search syntax: `firstSeen:>=2026-11-24T09:00:00` (also `>`, `<`, `<=`), times in UTC.
Used by the organization listing (standin/org_issues.py) and the project listing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

FIRST_SEEN = re.compile(r"firstSeen:(>=|<=|>|<)(\S+)")


def _when(text: str) -> datetime:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def matches(issue: dict[str, Any], query: str | None) -> bool:
    bounds = FIRST_SEEN.findall(query or "")
    if not bounds:
        return True
    seen = issue.get("firstSeen")
    if not seen:
        return False
    at = _when(str(seen))
    checks = {">=": at.__ge__, "<=": at.__le__, ">": at.__gt__, "<": at.__lt__}
    return all(checks[op](_when(value)) for op, value in bounds)
