"""What undo compares and what it sends back: pure functions over Sentry's issue shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.sentry.models import Issue
from shared.undo import IssueState, changes_since, restore_update, same_assignee


def issue(**fields: object) -> Issue:
    return Issue.model_validate({"id": "1", "status": "unresolved", **fields})


def test_a_person_changing_status_or_assignee_is_seen() -> None:
    after = IssueState(status="resolved", assignee="team:2")
    assert changes_since(after, issue(status="resolved", assignedTo={"type": "team", "id": "2", "name": "ops"})) == {}
    changed = changes_since(after, issue(status="unresolved", assignedTo=None))
    assert changed == {"status": {"ours": "resolved", "now": "unresolved"},
                       "assignee": {"ours": "team:2", "now": None}}


def test_an_assignee_named_as_the_write_named_it_matches_sentrys_object() -> None:
    current = issue(assignedTo={"type": "user", "id": "7", "name": "Ada", "email": "ada@example.com"}).assigned_to
    assert same_assignee("user:7", current) and same_assignee("ada@example.com", current)
    assert same_assignee("Ada", current) and not same_assignee("user:8", current)
    assert same_assignee(None, None) and not same_assignee(None, current)


def test_restore_sends_what_sentry_takes() -> None:
    assert restore_update(IssueState(status="unresolved", substatus="ongoing")).body() == {"status": "unresolved"}
    archived = IssueState(status="ignored", substatus="archived_until_escalating")
    assert restore_update(archived).body() == {"status": "ignored", "substatus": "archived_until_escalating"}
    counted = IssueState(status="ignored", status_details={"ignoreCount": 100, "ignoreWindow": 60, "actor": {}})
    assert restore_update(counted).body() == {"status": "ignored",
                                              "statusDetails": {"ignoreCount": 100, "ignoreWindow": 60}}
    next_release = IssueState(status="resolved", status_details={"inNextRelease": True})
    assert restore_update(next_release).body() == {"status": "resolvedInNextRelease",
                                                   "statusDetails": {"inNextRelease": True}}


def test_an_ignore_until_a_time_comes_back_as_the_minutes_left() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    until = (now + timedelta(minutes=90, seconds=10)).isoformat().replace("+00:00", "Z")
    state = IssueState(status="ignored", status_details={"ignoreUntil": until})
    assert restore_update(state, now.timestamp()).body() == {"status": "ignored",
                                                             "statusDetails": {"ignoreDuration": 91}}
    gone = IssueState(status="ignored", status_details={"ignoreUntil": "2020-01-01T00:00:00Z"})
    assert restore_update(gone, now.timestamp()).body() == {"status": "unresolved"}
