"""The comment for a real event, checked as a whole against a golden file."""

from __future__ import annotations

import os
from pathlib import Path

from shared.sentry.models import Event
from tests.analysis_events import CASES, context_for, real_contexts
from worker.analysis.registry import default_registry, run_handlers
from worker.comment import code, md, render_comment
from worker.plan import build_plan
from worker.rules import Rules

GOLDEN = Path(__file__).resolve().parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text + "\n")
    assert text + "\n" == path.read_text()


def comment_for(ctx):  # type: ignore[no-untyped-def]
    rules = Rules.default()
    plan = build_plan(ctx, run_handlers(default_registry(load_plugins=False), ctx), rules)
    return plan.actions[0].body  # type: ignore[union-attr]


def test_comment_for_the_schemas_real_event_matches_the_golden_file() -> None:
    check_golden("comment_api_event.md", comment_for(real_contexts()["api_event"]))


def test_comment_for_a_real_webhook_event_matches_the_golden_file() -> None:
    check_golden("comment_error_created.md", comment_for(real_contexts()["error_created"]))


def test_comment_for_a_python_chain_matches_the_golden_file() -> None:
    check_golden("comment_python_database.md", comment_for(context_for(CASES["database"][1])))


def test_event_text_cannot_break_out_of_code_spans_or_leak_secrets() -> None:
    event = Event.model_validate({
        "title": "x", "entries": [{"type": "exception", "data": {"values": [{
            "type": "ValueError", "value": "bad `input` **bold** password=hunter22 ops@example.com",
            "stacktrace": {"frames": [{"filename": "a`b.py", "function": "f", "lineNo": 1, "inApp": True,
                                        "context": [[1, "token = 'sntrys_abcdefghijklmnopqrstuvwxyz'"]]}]}}]}},
                    # The exception value is on the issue page, not in the comment; breadcrumbs are.
                    {"type": "breadcrumbs", "data": {"values": [
                        {"category": "**bold**", "message": "login `x` password=hunter22"}]}}],
    })
    text = comment_for(context_for(event))
    assert "hunter22" not in text and "ops@example.com" not in text and "sntrys_" not in text
    assert "`a'b.py`" in text
    assert "\\*\\*bold\\*\\*" in text


def test_filters() -> None:
    assert code("a`b\nc") == "`a'b c`"
    assert md("*x* [y](z)") == "\\*x\\* \\[y\\]\\(z\\)"


def test_a_replacement_template() -> None:
    ctx = real_contexts()["api_event"]
    text = render_comment(ctx, [], ["r"], [], "Issue {{ issue.short_id }} via {{ rules | join(',') }}")
    assert text == "Issue PUMP-STATION-1 via r"
