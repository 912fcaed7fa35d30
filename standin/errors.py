"""Sentry's error bodies, in one place: `{"detail": ...}` for most refusals, DRF's per-field
lists (`{"assignedTo": ["..."]}`, nested for `statusDetails`) for a serializer's."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

NOT_FOUND = "The requested resource does not exist"


def detail(message: str, status: int = 400, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def not_found() -> JSONResponse:
    return detail(NOT_FOUND, 404)


def field_errors(errors: dict[str, Any], status: int = 400) -> JSONResponse:
    return JSONResponse(errors, status_code=status)


class Invalid(Exception):
    """A serializer refused the body: `errors` is the DRF-shaped answer."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(str(errors))
        self.errors = errors

    @classmethod
    def on(cls, name: str, message: str) -> Invalid:
        return cls({name: [message]})
