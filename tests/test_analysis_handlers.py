"""Every built-in handler on Sentry's real example events and on crafted ones for each category."""

from __future__ import annotations

import pytest

from shared.sentry.models import Event, Issue, Release
from tests.analysis_events import CASES, NOW, context_for, real_contexts
from worker.analysis.base import AnalysisContext, Finding
from worker.analysis.classify import classify
from worker.analysis.impact import assess_impact
from worker.analysis.ownership import glob_to_regex, suggest_owner
from worker.analysis.registry import default_registry, run_handlers
from worker.analysis.regression import detect_regression
from worker.analysis.stack import summarize_stack


@pytest.mark.parametrize("name", ["api_event", "error_created", "event_alert"])
def test_every_handler_runs_on_real_events(name: str) -> None:
    ctx = real_contexts()[name]
    findings = run_handlers(default_registry(load_plugins=False), ctx)
    assert [f.error for f in findings if f.error] == []
    handlers = {f.handler for f in findings}
    assert {"stack", "classification", "impact"} <= handlers


def test_stack_summary_of_the_schemas_javascript_event() -> None:
    finding = summarize_stack(real_contexts()["api_event"])
    assert finding is not None
    assert finding.data["type"] == "ForbiddenError"
    top = finding.data["frames"][0]
    assert top["file"].endswith("PublisherMethods.js") and top["line"] == 74
    assert top["context"] == "me.trigger.apply(me, args);"
    assert finding.data["any_in_app"] is False
    assert finding.data["culprit"] == "raven.scripts.runner in main"


def test_stack_summary_of_a_raw_webhook_event() -> None:
    finding = summarize_stack(real_contexts()["error_created"])
    assert finding is not None
    assert finding.summary.startswith("ReferenceError: blooopy is not defined at /runner:3")
    assert finding.data["frames"][0]["context"] == "<meta charset=utf-8>"


def test_python_chain_in_app_frames_and_library_frame() -> None:
    finding = summarize_stack(context_for(CASES["database"][1]))
    assert finding is not None
    assert [c["type"] for c in finding.data["chain"]] == ["ConnectionRefusedError", "OperationalError"]
    assert finding.data["frames"][0]["file"] == "app/orders/views.py"
    assert finding.data["frames"][0]["context"] == "order = Order.objects.create(**data)"
    assert finding.data["library_frame"]["file"] == "django/db/backends/base.py"


def test_java_frames_use_the_class_and_keep_innermost_first() -> None:
    finding = summarize_stack(context_for(CASES["code defect"][1]))
    assert finding is not None
    assert finding.data["frames"][0]["function"] == "greet"
    assert finding.data["frames"][0]["module"] == "com.example.users.UserService"


@pytest.mark.parametrize("category", list(CASES))
def test_classification_of_each_category(category: str) -> None:
    finding = classify(context_for(CASES[category][1]))
    assert finding is not None
    assert finding.data["category"] == category, finding.data
    assert finding.data["evidence"]


def test_classification_of_the_real_events() -> None:
    assert classify(real_contexts()["error_created"]).data["category"] == "code defect"  # type: ignore[union-attr]
    assert classify(real_contexts()["api_event"]).data["category"] == "permission/auth"  # type: ignore[union-attr]


def test_rules_can_extend_the_signature_table() -> None:
    ctx = context_for(CASES["code defect"][1])
    extended = AnalysisContext(
        ctx.resource, ctx.action, ctx.issue, ctx.event, ctx.now,
        {"classification": [{"category": "flaky third party", "messages": ["getName"]}]},
    )
    finding = classify(extended)
    assert finding is not None
    assert "flaky third party" in finding.data["scores"]


def test_regression_with_releases() -> None:
    event = CASES["code defect"][1]
    ctx = context_for(event, substatus="regressed", statusDetails={"inRelease": "1.4.0"},
                      lastRelease={"version": "1.5.2"})
    finding = detect_regression(ctx)
    assert finding is not None
    assert finding.data == {"regressed": True, "resolved_in": "1.4.0", "came_back_in": "1.5.2"}
    assert finding.summary == "regression, resolved in 1.4.0, back in 1.5.2"


def test_regression_from_activity_and_no_regression_for_new_issues() -> None:
    event = CASES["code defect"][1]
    activity = [{"type": "set_regression", "data": {"version": "2.0.0"}},
                {"type": "set_resolved_in_release", "data": {"version": "1.9.0"}}]
    finding = detect_regression(context_for(event, activity=activity))
    assert finding is not None and finding.data["came_back_in"] == "2.0.0"
    assert finding.data["resolved_in"] == "1.9.0"
    assert detect_regression(context_for(event)) is None


def test_impact_tells_a_burst_from_a_trickle() -> None:
    event = CASES["code defect"][1]
    burst = assess_impact(context_for(event, count="5000", userCount=300))
    assert burst is not None and burst.data["shape"] == "burst" and burst.data["severity"] == "high"
    trickle = assess_impact(context_for(event, count="3", userCount=1, firstSeen="2026-01-01T00:00:00Z"))
    assert trickle is not None and trickle.data["shape"] == "trickle"
    sustained = assess_impact(context_for(event, count="900", firstSeen="2026-01-01T00:00:00Z"))
    assert sustained is not None and sustained.data["shape"] == "sustained"


def test_ownership_globs_last_match_wins() -> None:
    ctx = context_for(CASES["database"][1])
    rules = [{"pattern": "app/**", "owner": "team:1"}, {"pattern": "app/orders/*.py", "owner": "team:orders"}]
    owned = AnalysisContext(ctx.resource, ctx.action, ctx.issue, ctx.event, NOW, {"ownership": rules})
    finding = suggest_owner(owned)
    assert finding is not None and finding.data["owner"] == "team:orders"
    java = context_for(CASES["code defect"][1])
    java_rules = [{"pattern": "com.example.users.*", "owner": "user:9"}]
    assert suggest_owner(AnalysisContext("issue", "created", java.issue, java.event, NOW, {"ownership": java_rules})) is not None


def test_glob_semantics() -> None:
    assert glob_to_regex("src/**/*.py").match("src/a/b/c.py")
    assert not glob_to_regex("src/*.py").match("src/a/c.py")
    assert glob_to_regex("*.js").match("deep/dir/file.js")


def test_a_raising_handler_is_isolated() -> None:
    registry = default_registry(load_plugins=False)

    def broken(_ctx: AnalysisContext) -> Finding | None:
        raise RuntimeError("boom")

    registry.register("broken", broken)
    findings = run_handlers(registry, real_contexts()["api_event"])
    failed = [f for f in findings if f.handler == "broken"]
    assert failed and failed[0].error is not None and failed[0].error.startswith("RuntimeError: boom")
    assert any(f.handler == "stack" and f.error is None for f in findings)


def test_an_issue_without_event_still_gets_findings() -> None:
    ctx = AnalysisContext("issue", "created", Issue(id="1", title="Something broke"), None, NOW, {})
    findings = run_handlers(default_registry(load_plugins=False), ctx)
    assert next(f for f in findings if f.handler == "stack").summary == "Something broke"


def test_release_model_reads_the_api_shape() -> None:
    assert Release.model_validate({"version": "1", "shortVersion": "1"}).short_version == "1"
    assert Event.model_validate({"release": {"version": "9"}}).release == "9"


def test_a_message_pattern_alone_is_a_low_confidence_guess() -> None:
    # The schema's event: a ForbiddenError whose message says 403; the type is not a known one.
    finding = classify(real_contexts()["api_event"])
    assert finding is not None and finding.data["category"] == "permission/auth"
    assert finding.data["basis"] == "message only" and finding.data["confidence"] < 0.5
    typed = classify(real_contexts()["error_created"])
    assert typed is not None and typed.data["basis"] == "exception type" and typed.data["confidence"] >= 0.7


def _unresolved(actor: dict[str, object], **issue: object) -> AnalysisContext:
    ctx = context_for(CASES["database"][1], **issue)
    return AnalysisContext("issue", "unresolved", ctx.issue, ctx.event, ctx.now, ctx.options, actor=actor)


def test_a_person_reopening_is_not_a_regression() -> None:
    finding = detect_regression(_unresolved({"type": "user", "id": "42", "name": "Ana Lima"}, substatus="ongoing"))
    assert finding is not None and finding.handler == "reopened" and finding.data["regressed"] is False
    assert "Ana Lima" in finding.summary
    sentry = detect_regression(_unresolved({"type": "application", "id": "sentry", "name": "Sentry"}))
    assert sentry is not None and sentry.handler == "regression" and sentry.data["regressed"] is True
    said_so = detect_regression(_unresolved({"type": "user", "id": "1"}, substatus="regressed"))
    assert said_so is not None and said_so.handler == "regression"


def test_sentrys_own_owner_comes_before_the_globs() -> None:
    ctx = context_for(CASES["database"][1], owners=[{"type": "ownershipRule", "owner": "team:1"}])
    options = {"ownership": [{"pattern": "app/**", "owner": "team:2"}]}
    finding = suggest_owner(AnalysisContext(ctx.resource, ctx.action, ctx.issue, ctx.event, ctx.now, options))
    assert finding is not None and finding.data["owner"] == "team:1" and finding.data["source"] == "sentry"
