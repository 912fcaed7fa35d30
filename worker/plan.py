"""From findings and rules to a plan: which playbooks match, and the actions, merged and ordered.

Conflicts are settled by explicit priority, the same way every time:
- at most one status change survives; the one that keeps the issue most visible wins
  (unresolve > ignore > resolve in next release > resolve), so no rule can hide what another
  rule wants seen;
- at most one assignment survives; an explicit assignee beats the ownership suggestion
  ("owner": Sentry's own ownership first, the rules file's globs as fallback), and among
  explicit ones the first matching playbook wins;
- a resolve, ignore or archive that rests on the classification is held (reported, not sent)
  when the classification's confidence is below the rule's (or the file's) min_confidence;
- the comment comes first, then the assignment, then the status change, so the comment is on
  the issue before anybody is notified of a change.
"""

from __future__ import annotations

import re

from shared.sentry.models import StatusDetails
from worker.actions import Action, AssignAction, CommentAction, Held, Plan, StatusAction
from worker.analysis.base import AnalysisContext, Finding
from worker.comment import render_comment
from worker.rules import Ignore, Match, Playbook, Rules

STATUS_PRIORITY = {"unresolved": 4, "ignored": 3, "resolvedInNextRelease": 2, "resolved": 1}


def finding_data(findings: list[Finding], handler: str) -> dict[str, object]:
    return next((f.data for f in findings if f.handler == handler and f.error is None), {})


def matches(when: Match, ctx: AnalysisContext, findings: list[Finding]) -> bool:
    issue, event = ctx.issue, ctx.event
    checks: list[bool] = []
    if when.resource is not None:
        checks.append(any(r in (ctx.resource, f"{ctx.resource}.{ctx.action}") for r in when.resource))
    if when.project is not None:
        checks.append(issue.project.slug in when.project)
    if when.environment is not None:
        checks.append((event.env if event else None) in when.environment)
    if when.level is not None:
        checks.append((issue.level or (event.tag("level") if event else None)) in when.level)
    if when.title is not None:
        checks.append(re.search(when.title, issue.title or (event.title if event else "")) is not None)
    if when.culprit is not None:
        checks.append(re.search(when.culprit, issue.culprit or "") is not None)
    if when.category is not None:
        checks.append(finding_data(findings, "classification").get("category") in when.category)
    if when.tags is not None:
        checks.append(event is not None and all(event.tag(k) == v for k, v in when.tags.items()))
    if when.min_events is not None:
        checks.append(issue.count >= when.min_events)
    if when.min_users is not None:
        checks.append(issue.user_count >= when.min_users)
    if when.regression is not None:
        checks.append(bool(finding_data(findings, "regression").get("regressed")) == when.regression)
    return all(checks)


def ignore_action(ignore: Ignore, rule: str) -> StatusAction:
    if ignore.until_escalating:
        return StatusAction(status="ignored", substatus="archived_until_escalating", rule=rule)
    details = StatusDetails(
        ignore_duration=ignore.minutes,
        ignore_count=ignore.count,
        ignore_user_count=ignore.users,
        ignore_window=ignore.window_minutes if ignore.count else None,
        ignore_user_window=ignore.window_minutes if ignore.users else None,
    )
    return StatusAction(status="ignored", details=details, rule=rule)


def status_actions(playbook: Playbook) -> list[StatusAction]:
    a, name = playbook.actions, playbook.name
    out: list[StatusAction] = []
    if a.resolve:
        out.append(StatusAction(status="resolved", rule=name))
    if a.resolve_in_next_release:
        out.append(StatusAction(status="resolvedInNextRelease", details=StatusDetails(in_next_release=True), rule=name))
    if a.ignore is not None:
        out.append(ignore_action(a.ignore, name))
    if a.unresolve:
        out.append(StatusAction(status="unresolved", rule=name))
    return out


def doubt(playbook: Playbook, findings: list[Finding], rules: Rules) -> str | None:
    """Why this playbook's destructive actions must not run, or None: a rule that resolves,
    ignores or archives because of the classification needs the classification to be sure."""
    if not playbook.actions.destructive or playbook.when.category is None:
        return None
    data = finding_data(findings, "classification")
    confidence = float(str(data.get("confidence", 0.0)))
    needed = playbook.min_confidence if playbook.min_confidence is not None else rules.min_confidence
    if confidence >= needed:
        return None
    basis = data.get("basis", "no evidence")
    return (f"classification {data.get('category', 'unclassified')} rests on {basis} "
            f"(confidence {confidence:.2f}, rule {playbook.name} needs {needed:.2f})")


def build_plan(ctx: AnalysisContext, findings: list[Finding], rules: Rules) -> Plan:
    matched = [p for p in rules.playbooks if matches(p.when, ctx, findings)]
    if rules.mode == "first_match":
        matched = matched[:1]
    held = [Held(action=s, reason=why) for p in matched if (why := doubt(p, findings, rules))
            for s in status_actions(p)]
    statuses = [s for p in matched if not doubt(p, findings, rules) for s in status_actions(p)]
    status = max(statuses, key=lambda s: STATUS_PRIORITY[s.status], default=None)
    assign = pick_assignee(matched, findings)
    comment_spec = next((p.actions.comment for p in matched if p.actions.comment), None)
    actions: list[Action] = []
    if comment_spec is not None:
        # The comment lists no planned actions: once they ran, it is edited to say what became
        # of each (worker/writeback.py).
        template = comment_spec if isinstance(comment_spec, str) else rules.template_text
        actions.append(CommentAction(body=render_comment(ctx, findings, [p.name for p in matched], [], template)))
    actions.extend(a for a in (assign, status) if a is not None)
    return Plan(actions=actions, matched_rules=[p.name for p in matched], held=held)


def pick_assignee(matched: list[Playbook], findings: list[Finding]) -> AssignAction | None:
    explicit = next((p for p in matched if p.actions.assign and p.actions.assign != "owner"), None)
    if explicit is not None:
        return AssignAction(assignee=str(explicit.actions.assign), rule=explicit.name)
    wants_owner = next((p for p in matched if p.actions.assign == "owner"), None)
    owner = finding_data(findings, "ownership").get("owner")
    if wants_owner is not None and owner:
        return AssignAction(assignee=str(owner), rule=wants_owner.name)
    return None
