"""The one error body at the HTTP edge: `{"error": <code>, "detail": <why>}`.

`code` is a short snake_case word a client can branch on (README, "Error responses", lists them);
`detail` says why in words, or lists the fields that were wrong. Every route that refuses a request
answers through `error_response`, so a client reads every refusal the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Detail = str | list[dict[str, Any]]
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def error_response(
    status: int, code: str, detail: Detail = "", headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A refusal: `status` (4xx, or 5xx only when the service itself cannot answer), its code and
    why; `extra` adds fields a client needs to act (an undo's `changed`)."""
    if not _CODE.match(code):
        raise ValueError(f"error codes are snake_case: {code!r}")
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=status, headers=headers)


_ROUTING_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) in the same shape."""
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    code = _ROUTING_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)
