"""The handler registry: built-ins register here; plug-ins through the entry-point group
`sentry_responder.handlers`, so a team adds its own analysis without forking."""

from __future__ import annotations

import traceback
from importlib.metadata import entry_points

import structlog

from worker.analysis.base import AnalysisContext, Finding, Handler
from worker.analysis.before import what_happened_before
from worker.analysis.changes import what_changed
from worker.analysis.classify import classify
from worker.analysis.impact import assess_impact
from worker.analysis.ownership import suggest_owner
from worker.analysis.regression import detect_regression
from worker.analysis.related import related_issues
from worker.analysis.root_cause import seer_root_cause
from worker.analysis.sourcemaps import missing_source_maps
from worker.analysis.spread import who_is_affected
from worker.analysis.stack import summarize_stack

ENTRY_POINT_GROUP = "sentry_responder.handlers"
BUILTINS: dict[str, Handler] = {
    "stack": summarize_stack,
    "classification": classify,
    "regression": detect_regression,
    "impact": assess_impact,
    "ownership": suggest_owner,
    "before": what_happened_before,
    "sourcemaps": missing_source_maps,
    "changes": what_changed,
    "spread": who_is_affected,
    "related": related_issues,
    "root_cause": seer_root_cause,
}

log = structlog.get_logger("worker.analysis")


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def names(self) -> list[str]:
        return list(self._handlers)

    def items(self) -> list[tuple[str, Handler]]:
        return list(self._handlers.items())


def default_registry(load_plugins: bool = True) -> HandlerRegistry:
    registry = HandlerRegistry()
    for name, handler in BUILTINS.items():
        registry.register(name, handler)
    if load_plugins:
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                registry.register(entry.name, entry.load())
            except Exception as exc:  # a broken plug-in must not stop the worker
                log.error("plugin_load_failed", plugin=entry.name, error=repr(exc))
    return registry


def run_handlers(registry: HandlerRegistry, ctx: AnalysisContext) -> list[Finding]:
    """Every handler runs; one that raises is recorded as an error finding, the others go on."""
    findings: list[Finding] = []
    for name, handler in registry.items():
        try:
            finding = handler(ctx)
        except Exception as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
            findings.append(Finding(handler=name, error=f"{type(exc).__name__}: {exc}{where}"))
            continue
        if finding is not None:
            findings.append(finding)
    return findings
