"""Minified JavaScript: say that the source maps are missing instead of quoting minified lines.

A frame is minified when its file is a `.min.js`, or it sits on line 1 at a far column, or Sentry
could not fetch or map its source (`errors` of type js_*); its context (`{snip}`, a `<meta>` tag)
is then no code worth showing.
"""

from __future__ import annotations

from shared.sentry.models import Frame
from worker.analysis.base import AnalysisContext, Finding

JS_PLATFORMS = {"javascript", "node"}
MINIFIED_COLUMN = 300
SENTRY_SOURCE_ERRORS = {"js_no_source", "js_missing_source", "js_invalid_source", "js_invalid_sourcemap",
                        "js_missing_sources_content", "js_scraping_disabled"}


def file_name(frame: Frame) -> str:
    path = frame.abs_path or frame.filename or ""
    return path.split("?", 1)[0].rsplit("/", 1)[-1]


def is_minified(frame: Frame) -> bool:
    name = file_name(frame)
    far_column = frame.lineno == 1 and (frame.colno or 0) >= MINIFIED_COLUMN
    context = (frame.context_line or "").strip()
    snipped = "{snip}" in context
    markup = context.startswith("<")  # the page's HTML where the script's code should be
    return name.endswith(".min.js") or far_column or snipped or markup


def missing_source_maps(ctx: AnalysisContext) -> Finding | None:
    event = ctx.event
    platform = (event.platform if event else None) or ctx.issue.platform
    if event is None or platform not in JS_PLATFORMS:
        return None
    frames = [f for e in event.exceptions() for f in e.frames]
    files = list(dict.fromkeys(file_name(f) for f in reversed(frames) if is_minified(f) and file_name(f)))
    sentry_says = [e for e in event.errors if str(e.get("type")) in SENTRY_SOURCE_ERRORS]
    if not files:
        return None
    return Finding(
        handler="sourcemaps", summary=f"source maps missing for {', '.join(files[:3])}",
        data={"files": files[:3], "sentry_errors": [str(e.get("type")) for e in sentry_says][:3]},
        source="latest event: stack frames (file, line, column, context), errors",
    )
