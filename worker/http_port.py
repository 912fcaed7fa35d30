"""The worker's one HTTP port: /metrics for Prometheus, /healthz and /readyz for an orchestrator.

A thread beside the event loop (as prometheus_client serves /metrics), answering from what the
loop last saw: /healthz says the process is up, /readyz that Redis answers and the heartbeat is
fresh (a loop that is stuck stops the heartbeat). The readiness is the worker's own, never a
guess from outside.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

Readiness = Callable[[], tuple[bool, dict[str, object]]]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


_ALWAYS_READY: tuple[bool, dict[str, object]] = (True, {"status": "ready"})


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are not log lines."""


def _json(start_response: StartResponse, status: str, body: dict[str, object]) -> Iterable[bytes]:
    start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
    return [json.dumps(body).encode()]


def make_app(registry: CollectorRegistry, readiness: Readiness | None) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            ready, body = readiness() if readiness is not None else _ALWAYS_READY
            return _json(start_response, "200 OK" if ready else "503 Service Unavailable", body)
        result: Iterable[bytes] = metrics(environ, start_response)
        return result

    return app


def serve(port: int, host: str, registry: CollectorRegistry, readiness: Readiness | None) -> WSGIServer:
    """Listen now (an OSError if the port is taken) and answer from a daemon thread."""
    server = make_server(host, port, make_app(registry, readiness), _Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-http", daemon=True).start()
    return server
