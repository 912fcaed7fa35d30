"""Ownership: Sentry's own first (the issue's `owners`, from its ownership rules, code owners and
suspect commits), else CODEOWNERS-like globs from the rules file matched against in-app frames."""

from __future__ import annotations

import re
from functools import lru_cache

from shared.sentry.stack import frame_location, in_app_frames
from worker.analysis.base import AnalysisContext, Finding


@lru_cache(maxsize=256)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """`**` crosses directories, `*` does not; a pattern without `/` matches any path segment."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    anchor = "^" if pattern.startswith("/") else "(^|.*/)"
    return re.compile(anchor + body.lstrip("/") + "$")


def sentry_owner(ctx: AnalysisContext) -> Finding | None:
    owner = ctx.issue.owners[0] if ctx.issue.owners else None
    if owner is None:
        return None
    source = f"Sentry {owner.type or 'ownership'}"
    return Finding(
        handler="ownership",
        summary=f"{owner.owner} owns this issue ({source})",
        data={"owner": owner.owner, "pattern": source, "file": None, "source": "sentry"},
    )


def suggest_owner(ctx: AnalysisContext) -> Finding | None:
    from_sentry = sentry_owner(ctx)
    if from_sentry is not None:
        return from_sentry
    rules = ctx.options.get("ownership", [])
    exceptions = ctx.event.exceptions() if ctx.event else []
    if not rules or not exceptions:
        return None
    for frame in in_app_frames(exceptions[-1]):
        candidates = [p for p in (frame.filename, frame.abs_path, frame.module) if p]
        owner = None
        for rule in rules:  # as in CODEOWNERS, the last matching rule wins
            regex = glob_to_regex(rule["pattern"])
            if any(regex.match(c.lstrip("/")) or regex.match(c) for c in candidates):
                owner = rule
        if owner is not None:
            return Finding(
                handler="ownership",
                summary=f"{owner['owner']} owns {frame_location(frame)}",
                data={"owner": owner["owner"], "pattern": owner["pattern"], "file": frame_location(frame),
                      "source": "rules"},
            )
    return None
