"""Sentry's own root cause (Seer), from a `seer.root_cause_completed` delivery kept for the issue."""

from __future__ import annotations

from typing import Any

from worker.analysis.base import AnalysisContext, Finding


def seer_root_cause(ctx: AnalysisContext) -> Finding | None:
    return root_cause_finding(ctx.facts.root_cause) if ctx.facts.root_cause else None


def root_cause_finding(cause: dict[str, Any]) -> Finding:
    steps = [s for s in cause.get("steps") or [] if isinstance(s, dict)]
    key: dict[str, Any] = next((s for s in steps if s.get("is_most_important_event")), steps[-1] if steps else {})
    code_file = key.get("relevant_code_file") if isinstance(key.get("relevant_code_file"), dict) else {}
    assert isinstance(code_file, dict)
    where = code_file.get("file_path") if code_file.get("file_path") not in (None, "N/A") else None
    return Finding(
        handler="root_cause", summary=str(cause.get("description") or key.get("title") or ""),
        data={"description": cause.get("description"), "key_step": key.get("title"), "file": where,
              "run_id": cause.get("run_id")},
        source="seer.root_cause_completed webhook: data.root_cause",
    )
