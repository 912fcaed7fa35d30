"""Sentry's cursor pagination: `?cursor=<value>:<offset>:<is_prev>` in, a `Link` header out.

    Link: <url?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1",
          <url?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"

A caller stops when the next link says `results="false"` (src/sentry/api/base.py, paginator.py).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from standin.errors import Invalid

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 100


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    parts = cursor.split(":")
    try:
        if len(parts) != 3 or int(parts[1]) < 0:
            raise ValueError(cursor)
        return int(parts[1])
    except ValueError:
        raise Invalid({"detail": "Invalid cursor parameter."}) from None


def _per_page(request: Request, name: str) -> int:
    raw = request.query_params.get(name, str(DEFAULT_PER_PAGE))
    if not raw.isdigit() or not 0 < int(raw) <= MAX_PER_PAGE:
        raise Invalid({"detail": f"Invalid {name} parameter."})
    return int(raw)


def _link(request: Request, cursor: str, rel: str, results: bool) -> str:
    url = request.url.include_query_params(cursor=cursor)
    return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'


def paginate(request: Request, items: list[Any], per_page_param: str = "per_page") -> JSONResponse:
    """One page of `items` with Sentry's Link header."""
    offset = _offset(request.query_params.get("cursor"))
    per_page = _per_page(request, per_page_param)
    page = items[offset : offset + per_page]
    previous = _link(request, f"0:{max(offset - per_page, 0)}:1", "previous", offset > 0)
    following = _link(request, f"0:{offset + per_page}:0", "next", offset + per_page < len(items))
    return JSONResponse(page, headers={"Link": f"{previous}, {following}"})
