"""Sentry's error bodies, in one place: `{"detail": ...}` for most refusals, DRF's per-field
lists (`{"assignedTo": ["..."]}`, nested for `statusDetails`) for a serializer's, and
`{"detail": "Internal Error", "errorId": ...}` where Sentry itself fails (its
`Endpoint.handle_exception`: the id is the event its SDK recorded of the crash)."""

from __future__ import annotations

import uuid
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


def internal_error() -> JSONResponse:
    return JSONResponse({"detail": "Internal Error", "errorId": uuid.uuid4().hex}, status_code=500)


class ServerError(Exception):
    """Where Sentry's own code fails on what its serializer let through (a 500, not a 400)."""
