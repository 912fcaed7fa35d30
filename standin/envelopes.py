"""The stand-in's ingest endpoint: what the Sentry SDK sends (`POST /api/{project_id}/envelope/`),
so a test can see the responder's own error reports arrive, and read them at `/_standin/envelopes`.

Refuses what Sentry's ingest refuses: no `sentry_key` (in `X-Sentry-Auth` or the query), a body
that is not an envelope, a compression it cannot read.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SENTRY_KEY = re.compile(r"sentry_key=([0-9a-zA-Z]+)")
MAX_ENVELOPES = 500


@dataclass
class Envelope:
    project_id: str
    header: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)  # {"type", "header", "payload"}
    raw: str = ""


def decode_body(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(body))
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unsupported content encoding {encoding}")


def parse_envelope(project_id: str, data: bytes) -> Envelope:
    """Header line, then per item a header line and a payload (its `length`, else up to the newline)."""
    newline = data.index(b"\n") if b"\n" in data else len(data)
    envelope = Envelope(project_id, json.loads(data[:newline]), raw=data.decode("utf-8", "replace"))
    rest = data[newline + 1:]
    while rest.strip():
        end = rest.index(b"\n") if b"\n" in rest else len(rest)
        header = json.loads(rest[:end])
        rest = rest[end + 1:]
        length = header.get("length")
        if isinstance(length, int):
            payload, rest = rest[:length], rest[length + 1:]
        else:
            end = rest.index(b"\n") if b"\n" in rest else len(rest)
            payload, rest = rest[:end], rest[end + 1:]
        try:
            parsed: Any = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        envelope.items.append({"type": header.get("type"), "header": header, "payload": parsed})
    return envelope


def envelope_routes() -> list[Route]:
    received: list[Envelope] = []

    async def ingest(request: Request) -> Response:
        auth = request.headers.get("x-sentry-auth", "") + " " + str(request.url.query)
        if not SENTRY_KEY.search(auth):
            return JSONResponse({"detail": "missing authorization information"}, status_code=401)
        project_id = request.path_params["project_id"]
        if not project_id.isdigit():
            return JSONResponse({"detail": "invalid project id"}, status_code=400)
        try:
            data = decode_body(await request.body(), request.headers.get("content-encoding", "").lower())
            envelope = parse_envelope(project_id, data)
        except (ValueError, OSError, ImportError, zlib.error):
            return JSONResponse({"detail": "invalid envelope"}, status_code=400)
        received.append(envelope)
        del received[:-MAX_ENVELOPES]
        return JSONResponse({"id": envelope.header.get("event_id")})

    async def listing(_request: Request) -> Response:
        return JSONResponse([
            {"project_id": e.project_id, "header": e.header, "items": e.items, "raw": e.raw} for e in received
        ])

    return [
        Route("/api/{project_id}/envelope/", ingest, methods=["POST"]),
        Route("/_standin/envelopes", listing, methods=["GET"]),
    ]
