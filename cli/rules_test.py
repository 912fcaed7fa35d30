"""`sentry-responder rules test`: one delivery against a rules file, offline, explained playbook by
playbook. The delivery is read as the worker reads it (the same webhook models, analysis and plan)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from shared.jobs import Delivery
from shared.sentry.models import Issue
from shared.webhooks import parse_webhook
from worker.analysis.base import AnalysisContext
from worker.analysis.registry import default_registry, run_handlers
from worker.explain import Explanation, explain
from worker.fetch import event_from_payload, issue_from_payload, now
from worker.rules import Rules

RESOURCE_OF_DATA_KEY = {"issue": "issue", "error": "error", "event": "event_alert",
                        "metric_alert": "metric_alert", "comment": "comment"}


class PayloadError(Exception):
    """The delivery or issue file cannot be used; the message says why."""


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise PayloadError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise PayloadError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"{path}: expected a JSON object")
    return data


def resource_of(body: dict[str, Any]) -> str:
    """Sentry names the resource in a header; a saved payload names it by its `data` key."""
    data = body.get("data")
    for key, resource in RESOURCE_OF_DATA_KEY.items():
        if isinstance(data, dict) and key in data:
            return resource
    raise PayloadError("cannot tell the resource from the payload's data; give --resource")


def context_from_files(payload: Path, issue: Path | None, resource: str | None, rules: Rules) -> AnalysisContext:
    body = read_json(payload)
    resource = resource or resource_of(body)
    try:
        envelope = parse_webhook(resource, body)
    except ValueError as exc:
        raise PayloadError(f"{payload}: not a valid {resource} delivery: {exc}") from None
    issue_id = envelope.issue_id() or "0"
    delivery = Delivery(id="rules-test", resource=resource, action=envelope.action,
                        received_at=time.time(), issue_id=issue_id, body=body)
    event = event_from_payload(delivery)
    found = issue_from_payload(delivery, event) or Issue(id=issue_id)
    if issue is not None:
        try:
            found = Issue.model_validate(read_json(issue))
        except ValueError as exc:
            raise PayloadError(f"{issue}: not a Sentry issue: {exc}") from None
    return AnalysisContext(resource=resource, action=envelope.action, issue=found, event=event,
                           now=now(), options=rules.options())


def run(payload: Path, issue: Path | None, resource: str | None, rules: Rules) -> Explanation:
    ctx = context_from_files(payload, issue, resource, rules)
    findings = run_handlers(default_registry(), ctx)
    return explain(ctx, findings, rules)


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def print_explanation(console: Console, result: Explanation) -> None:
    console.print(f"rules mode: {result.rules_mode}")
    for p in result.playbooks:
        verdict = "[green]matched[/]" if p.matched else "[red]did not match[/]"
        note = " (shadow: planned, not executed)" if p.mode == "shadow" else ""
        if p.matched and p.mode == "live" and not p.used:
            note = " (not used: first_match stopped at an earlier playbook)"
        table = Table(title=f"playbook {p.name}: {verdict}{note}", title_justify="left", expand=False)
        for column in ("condition", "wanted", "actual", ""):
            table.add_column(column)
        for c in p.conditions:
            table.add_row(c.name, _short(c.wanted), _short(c.actual), "[green]yes[/]" if c.matched else "[red]no[/]")
        if not p.conditions:
            table.add_row("(none)", "", "", "[green]always[/]")
        console.print(table)
    console.print("[bold]plan[/]")
    plan = result.plan
    if not plan.actions:
        console.print("  nothing to do")
    for action in plan.actions:
        detail = action.model_dump(exclude={"kind", "body"}, exclude_none=True)
        console.print(f"  {action.kind} {json.dumps(detail) if detail else ''}")
        if action.kind == "comment":
            console.print("    " + action.model_dump()["body"].replace("\n", "\n    "), markup=False)
    for s in plan.shadow:
        console.print(f"  shadow {s.playbook}: would have: {', '.join(s.would)}")
