"""The package's version, as installed: the release self-reports carry and the API schema states."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    try:
        return version("sentry-responder")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
        return "0.0.0+unknown"
