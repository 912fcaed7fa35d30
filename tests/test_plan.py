from __future__ import annotations

from pathlib import Path

from tests.analysis_events import CASES, context_for, real_contexts
from worker.actions import AssignAction, CommentAction, StatusAction
from worker.analysis.registry import default_registry, run_handlers
from worker.plan import build_plan
from worker.rules import Rules, load_rules

ROOT = Path(__file__).resolve().parent.parent


def plan_for(rules: Rules, **issue: object):  # type: ignore[no-untyped-def]
    ctx = context_for(CASES["database"][1], **issue)
    ctx = type(ctx)(ctx.resource, ctx.action, ctx.issue, ctx.event, ctx.now, rules.options())
    return build_plan(ctx, run_handlers(default_registry(load_plugins=False), ctx), rules)


def rules(**data: object) -> Rules:
    return Rules.model_validate(data)


def test_default_rules_plan_one_comment() -> None:
    plan = plan_for(Rules.default())
    assert [a.kind for a in plan.actions] == ["comment"]
    assert plan.matched_rules == ["comment"]


def test_first_match_stops_at_the_first_playbook() -> None:
    r = rules(playbooks=[
        {"name": "a", "actions": {"resolve": True, "allow_destructive": True}},
        {"name": "b", "actions": {"comment": True}},
    ])
    plan = plan_for(r)
    assert plan.matched_rules == ["a"] and [a.kind for a in plan.actions] == ["set_status"]


def test_conflicting_status_changes_keep_the_most_visible() -> None:
    r = rules(mode="all_matches", playbooks=[
        {"name": "resolve", "actions": {"resolve": True, "allow_destructive": True}},
        {"name": "ignore", "actions": {"ignore": {"minutes": 30}, "allow_destructive": True}},
        {"name": "unresolve", "actions": {"unresolve": True}},
    ])
    statuses = [a for a in plan_for(r).actions if isinstance(a, StatusAction)]
    assert len(statuses) == 1 and statuses[0].status == "unresolved" and statuses[0].rule == "unresolve"


def test_ignore_variants_become_sentrys_status_details() -> None:
    def status(ignore: dict[str, object]) -> StatusAction:
        plan = plan_for(rules(playbooks=[{"name": "i", "actions": {"ignore": ignore, "allow_destructive": True}}]))
        action = plan.actions[0]
        assert isinstance(action, StatusAction)
        return action

    assert status({"minutes": 30}).details.ignore_duration == 30  # type: ignore[union-attr]
    counted = status({"count": 100, "window_minutes": 60}).details
    assert counted is not None and (counted.ignore_count, counted.ignore_window) == (100, 60)
    users = status({"users": 5, "window_minutes": 10}).details
    assert users is not None and (users.ignore_user_count, users.ignore_user_window) == (5, 10)
    assert status({"until_escalating": True}).substatus == "archived_until_escalating"


def test_explicit_assignee_beats_ownership_and_comment_comes_first() -> None:
    r = rules(mode="all_matches", ownership=[{"pattern": "app/**", "owner": "team:9"}], playbooks=[
        {"name": "owner", "actions": {"assign": "owner"}},
        {"name": "explicit", "actions": {"assign": "user:5", "comment": True, "resolve_in_next_release": True,
                                          "allow_destructive": True}},
    ])
    plan = plan_for(r)
    assert [a.kind for a in plan.actions] == ["comment", "assign", "set_status"]
    assign = plan.actions[1]
    assert isinstance(assign, AssignAction) and assign.assignee == "user:5"
    comment = plan.actions[0]
    assert isinstance(comment, CommentAction)
    # The comment lists what was done once it is done (worker/writeback.py), never the plan.
    assert "assign to user:5" not in comment.body and "resolvedInNextRelease" not in comment.body


def test_owner_assignment_uses_the_ownership_finding() -> None:
    r = rules(ownership=[{"pattern": "app/orders/**", "owner": "team:1"}],
              playbooks=[{"name": "route", "actions": {"assign": "owner"}}])
    plan = plan_for(r)
    assert isinstance(plan.actions[0], AssignAction) and plan.actions[0].assignee == "team:1"


def test_owner_assignment_prefers_sentrys_own_ownership_to_the_globs() -> None:
    r = rules(ownership=[{"pattern": "app/orders/**", "owner": "team:1"}],
              playbooks=[{"name": "route", "actions": {"assign": "owner"}}])
    plan = plan_for(r, owners=[{"type": "codeowners", "owner": "user:42"}])
    assert isinstance(plan.actions[0], AssignAction) and plan.actions[0].assignee == "user:42"


def test_a_destructive_rule_on_a_guessed_category_is_held_not_sent() -> None:
    archive = {"name": "noise", "when": {"category": ["database"]},
               "actions": {"ignore": {"until_escalating": True}, "allow_destructive": True}}
    sure = plan_for(rules(playbooks=[archive]))  # OperationalError: the exception type says database
    assert [a.kind for a in sure.actions] == ["set_status"] and not sure.held
    unsure = plan_for(rules(playbooks=[archive | {"min_confidence": 0.99}]))
    assert unsure.actions == [] and len(unsure.held) == 1
    assert "confidence 0.85" in unsure.held[0].reason and "needs 0.99" in unsure.held[0].reason


def test_conditions() -> None:
    def matched(when: dict[str, object], **issue: object) -> bool:
        return bool(plan_for(rules(playbooks=[{"name": "x", "when": when, "actions": {"comment": True}}]), **issue).actions)

    assert matched({"resource": "issue.created"}) and matched({"resource": ["issue"]})
    assert not matched({"resource": ["error"]})
    assert matched({"project": "backend"}) and not matched({"project": "web"})
    assert matched({"environment": "production"}) and not matched({"environment": "staging"})
    assert matched({"level": ["error"]}) and not matched({"level": ["warning"]})
    assert matched({"title": "^OperationalError"}) and not matched({"title": "^Type"})
    assert matched({"category": ["database"]}) and not matched({"category": ["code defect"]})
    assert matched({"tags": {"environment": "production"}}) and not matched({"tags": {"x": "y"}})
    assert matched({"min_events": 5}) and not matched({"min_events": 6})
    assert matched({"min_users": 1}) and not matched({"min_users": 2})
    assert matched({"regression": False}) and matched({"regression": True}, substatus="regressed")
    assert matched({"culprit": "orders"}, culprit="app.orders.views in create_order")


def test_the_example_rules_file_plans_sensibly() -> None:
    plan = plan_for(load_rules(ROOT / "rules.example.yaml"), substatus="regressed")
    assert plan.matched_rules == ["explain", "regressions-to-owner"]
    assert [a.kind for a in plan.actions] == ["comment", "assign", "set_status"]


def test_a_person_reopening_triggers_no_regression_rule() -> None:
    example = load_rules(ROOT / "rules.example.yaml")
    base = context_for(CASES["database"][1], substatus="ongoing")

    def plan(actor: dict[str, object]):  # type: ignore[no-untyped-def]
        ctx = type(base)("issue", "unresolved", base.issue, base.event, base.now, example.options(), actor=actor)
        return build_plan(ctx, run_handlers(default_registry(load_plugins=False), ctx), example)

    assert plan({"type": "user", "id": "42", "name": "Ana"}).matched_rules == ["explain"]
    assert plan({"type": "application", "id": "sentry", "name": "Sentry"}).matched_rules == [
        "explain", "regressions-to-owner"]


def test_the_demo_rule_does_not_archive_on_a_403_in_a_message() -> None:
    demo = load_rules(ROOT / "cli" / "demo_rules.yaml")
    ctx = real_contexts()["api_event"]
    ctx = type(ctx)(ctx.resource, ctx.action, ctx.issue, ctx.event, ctx.now, demo.options())
    plan = build_plan(ctx, run_handlers(default_registry(load_plugins=False), ctx), demo)
    assert "forbidden-noise" in plan.matched_rules
    assert not [a for a in plan.actions if isinstance(a, StatusAction) and a.status == "ignored"]
    assert [h.action.kind for h in plan.held] == ["set_status"] and "message only" in plan.held[0].reason
