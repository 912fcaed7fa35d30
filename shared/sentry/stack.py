"""Stack traces in one shape whatever the platform: Python, Java, JavaScript and native frames read
alike (file path, else URL, else module), innermost first, in-app frames ahead of library ones.

Shared by the worker's stack analysis and the gateway's read API (which may not import worker code).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.sentry.models import Event, ExceptionValue, Frame


class NormalFrame(BaseModel):
    file: str
    function: str
    line: int | None = None
    column: int | None = None
    module: str | None = None
    package: str | None = None
    context: str | None = None
    in_app: bool = False


class NormalException(BaseModel):
    type: str | None = None
    value: str | None = None
    handled: bool | None = None
    frames: list[NormalFrame] = Field(default_factory=list)


class NormalStack(BaseModel):
    """The exception chain, innermost (the one that was raised last) first."""

    platform: str | None = None
    exceptions: list[NormalException] = Field(default_factory=list)

    @property
    def top_in_app(self) -> list[NormalFrame]:
        frames = self.exceptions[0].frames if self.exceptions else []
        return [f for f in frames if f.in_app] or frames


def frame_location(frame: Frame) -> str:
    """The most readable location a frame has: file path, else URL, else module (Java)."""
    return frame.filename or frame.abs_path or frame.module or "?"


def in_app_frames(exc: ExceptionValue) -> list[Frame]:
    """Innermost first. When no frame is marked in-app (common in browsers), all frames count."""
    frames = list(reversed(exc.frames))
    marked = [f for f in frames if f.in_app]
    return marked or frames


def normal_frame(frame: Frame) -> NormalFrame:
    return NormalFrame(
        file=frame_location(frame), function=frame.function or "?", line=frame.lineno, column=frame.colno,
        module=frame.module, package=frame.package, context=(frame.context_line or "").strip() or None,
        in_app=bool(frame.in_app),
    )


def normal_exception(exc: ExceptionValue) -> NormalException:
    innermost_first = list(reversed(exc.frames))
    ordered = [f for f in innermost_first if f.in_app] + [f for f in innermost_first if not f.in_app]
    return NormalException(
        type=exc.type, value=exc.value, handled=exc.mechanism.handled if exc.mechanism else None,
        frames=[normal_frame(f) for f in ordered],
    )


def normalize_stack(event: Event) -> NormalStack:
    return NormalStack(
        platform=event.platform, exceptions=[normal_exception(e) for e in reversed(event.exceptions())]
    )
