"""Stack trace summary: what failed, where in our code, and where it crossed into a library."""

from __future__ import annotations

from typing import Any

from shared.sentry.models import Frame
from shared.sentry.stack import frame_location, in_app_frames
from worker.analysis.base import AnalysisContext, Finding

TOP_FRAMES = 5


def describe_frame(frame: Frame) -> dict[str, Any]:
    return {
        "file": frame_location(frame),
        "function": frame.function or "?",
        "line": frame.lineno,
        "context": (frame.context_line or "").strip() or None,
        "module": frame.module,
        "in_app": bool(frame.in_app),
    }


def summarize_stack(ctx: AnalysisContext) -> Finding | None:
    exceptions = ctx.event.exceptions() if ctx.event else []
    if not exceptions:
        title = ctx.issue.title or (ctx.event.title if ctx.event else "")
        return Finding(handler="stack", summary=title or "no stack trace", data={"exceptions": []})
    primary = exceptions[-1]  # Sentry lists chained exceptions outermost first
    frames = in_app_frames(primary)
    library = next((f for f in reversed(primary.frames) if f.in_app is False), None)
    described = [describe_frame(f) for f in frames[:TOP_FRAMES]]
    data = {
        "type": primary.type,
        "value": primary.value,
        "chain": [{"type": e.type, "value": e.value} for e in exceptions],
        "frames": described,
        "any_in_app": any(f.in_app for f in primary.frames),
        "library_frame": describe_frame(library) if library else None,
        "culprit": ctx.issue.culprit or (ctx.event.culprit if ctx.event else None),
        "platform": (ctx.event.platform if ctx.event else None) or ctx.issue.platform,
        "handled": primary.mechanism.handled if primary.mechanism else None,
    }
    top = described[0] if described else None
    where = f" at {top['file']}:{top['line']} in {top['function']}" if top else ""
    summary = f"{primary.type or 'Error'}: {primary.value or ''}".rstrip(": ") + where
    return Finding(handler="stack", summary=summary, data=data)
