"""A third-party handler registered through the `sentry_responder.handlers` entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.analysis_events import real_contexts
from worker.analysis.registry import default_registry, run_handlers


@pytest.fixture
def plugin_on_path(tmp_path: Path) -> Path:
    (tmp_path / "acme_handlers.py").write_text(
        "from worker.analysis.base import Finding\n"
        "def release_age(ctx):\n"
        "    return Finding(handler='release_age', summary='release is old', data={'days': 90})\n"
    )
    dist = tmp_path / "acme_handlers-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-handlers\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[sentry_responder.handlers]\nrelease_age = acme_handlers:release_age\n"
    )
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("acme_handlers", None)


def test_entry_point_handler_is_picked_up_and_run(plugin_on_path: Path) -> None:
    registry = default_registry()
    assert "release_age" in registry.names()
    findings = run_handlers(registry, real_contexts()["api_event"])
    assert any(f.handler == "release_age" and f.data == {"days": 90} for f in findings)


def test_plugins_can_be_left_out() -> None:
    assert "release_age" not in default_registry(load_plugins=False).names()
