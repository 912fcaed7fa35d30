from __future__ import annotations

import pytest

from shared.webhooks import WEBHOOK_MODELS, IssueWebhook, UnknownWebhook, parse_webhook
from tests.helpers import load_webhook, webhook_names


def test_each_model_is_filed_under_the_resource_it_declares() -> None:
    for resource, model in WEBHOOK_MODELS.items():
        assert model.model_fields["resource"].default == resource


@pytest.mark.parametrize("name", webhook_names())
def test_every_published_payload_parses_into_its_model(name: str) -> None:
    resource, action = name.split(".", 1)
    envelope = parse_webhook(resource, load_webhook(name))
    assert type(envelope) is WEBHOOK_MODELS[resource] and not isinstance(envelope, UnknownWebhook)
    assert envelope.action == action
    assert envelope.resource == resource


def test_issue_ids_are_found_where_each_resource_keeps_them() -> None:
    assert parse_webhook("issue", load_webhook("issue.created")).issue_id() == "1170820242"
    assert parse_webhook("error", load_webhook("error.created")).issue_id() == "1170820242"
    alert = parse_webhook("event_alert", load_webhook("event_alert.triggered"))
    assert alert.issue_id() == "1117540176"
    assert parse_webhook("comment", load_webhook("comment.created")).issue_id() == "100"
    assert parse_webhook("seer", load_webhook("seer.pr_created")).issue_id() == "1170820242"


def test_new_fields_from_sentry_are_tolerated() -> None:
    payload = load_webhook("issue.created")
    payload["data"]["issue"]["brandNewField"] = {"x": 1}
    payload["futureTopLevel"] = True
    assert parse_webhook("issue", payload).issue_id() == "1170820242"


def test_issue_count_is_a_string_as_sentry_sends_it() -> None:
    envelope = parse_webhook("issue", load_webhook("issue.created"))
    assert isinstance(envelope, IssueWebhook)
    assert envelope.data.issue.count == "1"


def test_unknown_resource_keeps_its_name() -> None:
    envelope = parse_webhook("activity_alert", {"action": "triggered", "data": {"x": 1}})
    assert isinstance(envelope, UnknownWebhook)
    assert envelope.resource == "activity_alert"
