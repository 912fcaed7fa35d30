"""The ops side of the gateway: the jobs API and the dashboard that people on call read."""

from __future__ import annotations

from gateway.ops.routes import ops_routes

__all__ = ["ops_routes"]
