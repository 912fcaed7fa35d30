"""The rule tester: each playbook's conditions checked one by one, the plan printed, offline."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.conftest import WEBHOOK_FIXTURES, load_webhook
from tests.test_plan import plan_for, rules
from worker.analysis.registry import default_registry, run_handlers
from worker.explain import explain

runner = CliRunner()
RULES = """
mode: all_matches
playbooks:
  - name: explain
    actions: {comment: true}
  - name: prod-only
    when: {environment: [production], min_events: 1}
    actions: {resolve: true, allow_destructive: true}
  - name: new-issues
    when: {resource: issue.created, min_events: 1000000}
    actions: {assign: "team:2"}
  - name: try-resolve
    mode: shadow
    when: {resource: issue}
    actions: {resolve: true, assign: "team:9", allow_destructive: true}
"""


def write_rules(tmp_path: Path, text: str = RULES) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_explain_reports_each_condition_with_what_was_there() -> None:
    from tests.analysis_events import CASES, context_for

    r = rules(mode="all_matches", playbooks=[
        {"name": "big", "when": {"min_events": 10**9, "level": ["error", "fatal"]}, "actions": {"resolve": True, "allow_destructive": True}},
        {"name": "any", "actions": {"comment": True}},
    ])
    ctx = context_for(CASES["database"][1])
    ctx = type(ctx)(ctx.resource, ctx.action, ctx.issue, ctx.event, ctx.now, r.options())
    result = explain(ctx, run_handlers(default_registry(load_plugins=False), ctx), r)
    big, anything = result.playbooks
    assert not big.matched and anything.matched and anything.used
    by_name = {c.name: c for c in big.conditions}
    assert by_name["min_events"].matched is False and by_name["min_events"].wanted == 10**9
    assert by_name["min_events"].actual == ctx.issue.count
    assert result.plan.matched_rules == ["any"]


def test_rules_test_cli_explains_and_prints_the_plan(tmp_path: Path) -> None:
    payload = WEBHOOK_FIXTURES / "issue.created.json"
    result = runner.invoke(app, ["rules", "test", str(write_rules(tmp_path)), "--payload", str(payload)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "playbook explain: matched" in out
    assert "playbook new-issues: did not match" in out and "min_events" in out
    assert "playbook try-resolve: matched (shadow: planned, not executed)" in out
    assert "shadow try-resolve: would have: assign to team:9, resolve" in out
    assert "plan" in out and "comment" in out


def test_rules_test_json_with_an_issue_file(tmp_path: Path) -> None:
    issue = load_webhook("issue.created")["data"]["issue"] | {"count": "2000000"}
    issue_file = tmp_path / "issue.json"
    issue_file.write_text(json.dumps(issue))
    payload = WEBHOOK_FIXTURES / "issue.created.json"
    result = runner.invoke(app, ["rules", "test", str(write_rules(tmp_path)), "--payload", str(payload),
                                 "--issue", str(issue_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_name = {p["name"]: p for p in data["playbooks"]}
    assert by_name["new-issues"]["matched"] is True
    assert {"kind": "assign", "assignee": "team:2", "rule": "new-issues"} in data["plan"]["actions"]


def test_rules_test_refuses_bad_input_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "payload.json"
    bad.write_text("[1, 2")
    result = runner.invoke(app, ["rules", "test", str(write_rules(tmp_path)), "--payload", str(bad)])
    assert result.exit_code == 2 and "not JSON" in result.output
    broken_rules = write_rules(tmp_path, "playbooks:\n  - name: x\n    mode: sometimes\n    actions: {}\n")
    result = runner.invoke(app, ["rules", "test", str(broken_rules), "--payload", str(WEBHOOK_FIXTURES / "issue.created.json")])
    assert result.exit_code == 2 and ":3: playbooks.0.mode" in result.output


def test_shadow_playbook_is_planned_not_executed_and_takes_no_live_place() -> None:
    r = rules(playbooks=[
        {"name": "try", "mode": "shadow", "actions": {"resolve": True, "allow_destructive": True}},
        {"name": "explain", "actions": {"comment": True}},
    ])
    plan = plan_for(r)
    assert plan.matched_rules == ["explain"]  # first_match: the shadow one did not take its place
    assert [a.kind for a in plan.actions] == ["comment"]
    assert [(s.playbook, s.would) for s in plan.shadow] == [("try", ["resolve"])]
    assert "_Shadow playbook try would have: resolve (not executed)_" in plan.actions[0].model_dump()["body"]
