from __future__ import annotations

from pathlib import Path

import pytest

from worker.rules import Rules, RulesError, load_rules

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_the_shipped_example_validates() -> None:
    rules = load_rules(ROOT / "rules.example.yaml")
    assert rules.mode == "all_matches"
    assert [p.name for p in rules.playbooks][:2] == ["explain", "regressions-to-owner"]
    assert rules.options()["ownership"][1] == {"pattern": "app/billing/**", "owner": "team:2"}


def test_default_rules_comment_only() -> None:
    rules = Rules.default()
    assert len(rules.playbooks) == 1 and rules.playbooks[0].actions.comment is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mode: sometimes\n", "rules.yaml:1: mode: Input should be 'first_match' or 'all_matches'"),
        ("playbooks:\n  - name: x\n    actions:\n      resolve: perhaps\n",
         "rules.yaml:4: playbooks.0.actions.resolve: Input should be a valid boolean"),
        ("playbooks:\n  - name: x\n    actions:\n      ignore:\n        minutes: 5\n        count: 3\n",
         "rules.yaml:5: playbooks.0.actions.ignore: Value error, give exactly one of"),
        ("playbooks:\n  - name: x\n    when:\n      title: '('\n    actions: {}\n",
         "rules.yaml:4: playbooks.0.when.title: Value error, not a regular expression"),
        ("playbooks:\n  - name: x\n    actions:\n      explode: true\n",
         "rules.yaml:4: playbooks.0.actions.explode: Extra inputs are not permitted"),
        ("thresholds:\n  events: 0\n", "rules.yaml:2: thresholds.events: Input should be greater than or equal to 1"),
        ("mode: [unclosed\n", "rules.yaml:2: not valid YAML"),
        ("comment_template: missing.j2\n", "rules.yaml:1: comment_template: cannot read"),
    ],
)
def test_bad_files_name_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RulesError) as info:
        load_rules(write(tmp_path, text))
    assert message in str(info.value), str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nope.yaml")


def test_comment_template_is_read_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "c.j2").write_text("Hello {{ issue.title }}")
    rules = load_rules(write(tmp_path, "comment_template: c.j2\n"))
    assert rules.template_text == "Hello {{ issue.title }}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("playbooks:\n  - name: x\n    actions:\n      assign: team:orders\n",
         "rules.yaml:4: playbooks.0.actions.assign: Value error, 'team:orders' is not an id Sentry resolves"),
        ("playbooks:\n  - name: x\n    actions:\n      comment: true\n      assign: '#orders'\n",
         "rules.yaml:5: playbooks.0.actions.assign: Value error, '#orders' is a team slug"),
        ("ownership:\n  - pattern: 'app/**'\n    owner: team:orders\n",
         "rules.yaml:3: ownership.0.owner: Value error, 'team:orders' is not an id Sentry resolves"),
        ("playbooks:\n  - name: x\n    actions:\n      ignore:\n        minutes: 5\n",
         "rules.yaml:4: playbooks.0.actions: Value error, resolve, resolve_in_next_release and ignore hide the issue"),
        ("min_confidence: 2\n", "rules.yaml:1: min_confidence: Input should be less than or equal to 1"),
    ],
)
def test_assignees_and_destructive_actions_are_checked_at_load(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RulesError) as info:
        load_rules(write(tmp_path, text))
    assert message in str(info.value), str(info.value)


@pytest.mark.parametrize("assignee", ["team:1", "user:42", "42", "ana", "ana@example.com", "owner"])
def test_every_assignee_form_sentry_takes_loads(tmp_path: Path, assignee: str) -> None:
    rules = load_rules(write(tmp_path, f"playbooks:\n  - name: x\n    actions:\n      assign: '{assignee}'\n"))
    assert rules.playbooks[0].actions.assign == assignee


def test_the_demo_rules_validate_and_name_seeded_ids() -> None:
    rules = load_rules(ROOT / "cli" / "demo_rules.yaml")
    assert {r.owner for r in rules.ownership} == {"team:1", "team:2", "team:3"}
    destructive = [p for p in rules.playbooks if p.actions.destructive]
    assert destructive and all(p.when.category for p in destructive)  # never on a title regex alone
