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

from pydantic import BaseModel

from shared.sentry.models import StatusDetails
from worker.actions import Action, AssignAction, CommentAction, Held, Plan, ShadowPlan, StatusAction
from worker.analysis.base import AnalysisContext, Finding
from worker.comment import render_comment
from worker.rules import Ignore, Match, Playbook, Rules

STATUS_PRIORITY = {"unresolved": 4, "ignored": 3, "resolvedInNextRelease": 2, "resolved": 1}


def finding_data(findings: list[Finding], handler: str) -> dict[str, object]:
    return next((f.data for f in findings if f.handler == handler and f.error is None), {})


class Condition(BaseModel):
    """One condition of a playbook's `when`, checked: what it asked for, what was there."""

    name: str
    wanted: object
    actual: object
    matched: bool


def conditions(when: Match, ctx: AnalysisContext, findings: list[Finding]) -> list[Condition]:
    """Every condition the playbook gives, each checked (the rule tester shows them one by one)."""
    issue, event = ctx.issue, ctx.event
    out: list[Condition] = []

    def check(name: str, wanted: object, actual: object, matched: bool) -> None:
        out.append(Condition(name=name, wanted=wanted, actual=actual, matched=matched))

    if when.resource is not None:
        names = (ctx.resource, f"{ctx.resource}.{ctx.action}")
        check("resource", when.resource, names[1], any(r in names for r in when.resource))
    if when.project is not None:
        check("project", when.project, issue.project.slug, issue.project.slug in when.project)
    if when.environment is not None:
        env = event.env if event else None
        check("environment", when.environment, env, env in when.environment)
    if when.level is not None:
        level = issue.level or (event.tag("level") if event else None)
        check("level", when.level, level, level in when.level)
    if when.title is not None:
        title = issue.title or (event.title if event else "")
        check("title", when.title, title, re.search(when.title, title) is not None)
    if when.culprit is not None:
        culprit = issue.culprit or ""
        check("culprit", when.culprit, culprit, re.search(when.culprit, culprit) is not None)
    if when.category is not None:
        category = finding_data(findings, "classification").get("category")
        check("category", when.category, category, category in when.category)
    if when.tags is not None:
        tags = {k: event.tag(k) if event else None for k in when.tags}
        check("tags", when.tags, tags, event is not None and all(tags[k] == v for k, v in when.tags.items()))
    if when.min_events is not None:
        check("min_events", when.min_events, issue.count, issue.count >= when.min_events)
    if when.min_users is not None:
        check("min_users", when.min_users, issue.user_count, issue.user_count >= when.min_users)
    if when.regression is not None:
        regressed = bool(finding_data(findings, "regression").get("regressed"))
        check("regression", when.regression, regressed, regressed == when.regression)
    return out


def matches(when: Match, ctx: AnalysisContext, findings: list[Finding]) -> bool:
    return all(c.matched for c in conditions(when, ctx, findings))


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
    """Live playbooks make the plan; shadow playbooks are matched on their own (they never take a
    live playbook's place under first_match) and only say what they would have done."""
    shadow = [shadow_plan(p, findings) for p in rules.playbooks
              if p.mode == "shadow" and matches(p.when, ctx, findings)]
    matched = [p for p in rules.playbooks if p.mode == "live" and matches(p.when, ctx, findings)]
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
        body = render_comment(ctx, findings, [p.name for p in matched], [], template, shadow)
        actions.append(CommentAction(body=body))
    actions.extend(a for a in (assign, status) if a is not None)
    return Plan(actions=actions, matched_rules=[p.name for p in matched], held=held, shadow=shadow)


def shadow_plan(playbook: Playbook, findings: list[Finding]) -> ShadowPlan:
    """The playbook's own actions, as if it were the only one that matched."""
    actions: list[Action] = []
    if playbook.actions.comment:
        actions.append(CommentAction(body=""))
    assign = pick_assignee([playbook], findings)
    if assign is not None:
        actions.append(assign)
    statuses = status_actions(playbook)
    status = max(statuses, key=lambda s: STATUS_PRIORITY[s.status], default=None)
    if status is not None:
        actions.append(status)
    return ShadowPlan(playbook=playbook.name, actions=actions, would=[would_do(a) for a in actions])


VERBS = {"resolved": "resolve", "resolvedInNextRelease": "resolve in next release",
         "ignored": "ignore", "unresolved": "unresolve"}


def would_do(action: Action) -> str:
    """The imperative for "would have: ...": resolve, ignore, assign to team:ops, comment."""
    if isinstance(action, StatusAction):
        return VERBS[action.status] + (f" ({action.substatus})" if action.substatus else "")
    if isinstance(action, AssignAction):
        return f"assign to {action.assignee}"
    return "comment"


def pick_assignee(matched: list[Playbook], findings: list[Finding]) -> AssignAction | None:
    explicit = next((p for p in matched if p.actions.assign and p.actions.assign != "owner"), None)
    if explicit is not None:
        return AssignAction(assignee=str(explicit.actions.assign), rule=explicit.name)
    wants_owner = next((p for p in matched if p.actions.assign == "owner"), None)
    owner = finding_data(findings, "ownership").get("owner")
    if wants_owner is not None and owner:
        return AssignAction(assignee=str(owner), rule=wants_owner.name)
    return None
