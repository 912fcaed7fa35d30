"""A backtest's pure core: one past issue through the worker's own analysis and planning, and the
report that adds them up (per playbook matches and actions, conflicts and how they were settled,
issues nothing matched, a sample of the comments). No I/O here; worker/backtest_run.py pages and fetches."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.sentry.models import Event, Issue
from worker.actions import CommentAction, Plan
from worker.analysis.base import AnalysisContext
from worker.analysis.registry import HandlerRegistry, run_handlers
from worker.plan import STATUS_PRIORITY, build_plan, matches, pick_assignee, status_actions, would_do
from worker.rules import Playbook, Rules

SAMPLE = 5  # comments kept
UNMATCHED_SAMPLE = 50
CONFLICT_SAMPLE = 50


class Conflict(BaseModel):
    issue_id: str
    kind: str  # "status" or "assign"
    wanted: dict[str, str]  # playbook -> what it wanted
    winner: str  # the playbook whose action was kept
    rule: str  # how it was settled


class IssueBrief(BaseModel):
    id: str
    title: str
    project: str | None = None
    web_url: str | None = None


class CommentSample(BaseModel):
    issue: IssueBrief
    body: str


class PlaybookTally(BaseModel):
    mode: str = "live"
    matched: int = 0
    actions: dict[str, int] = Field(default_factory=dict)  # "resolve" -> issues it would have resolved


class BacktestReport(BaseModel):
    issues: int = 0
    matched: int = 0  # issues at least one playbook (live or shadow) matched
    pages: int = 0
    fetch_errors: int = 0
    playbooks: dict[str, PlaybookTally] = Field(default_factory=dict)
    conflicts: int = 0
    conflict_samples: list[Conflict] = Field(default_factory=list)
    unmatched: int = 0
    unmatched_samples: list[IssueBrief] = Field(default_factory=list)
    comments: list[CommentSample] = Field(default_factory=list)

    @classmethod
    def for_rules(cls, rules: Rules) -> BacktestReport:
        return cls(playbooks={p.name: PlaybookTally(mode=p.mode) for p in rules.playbooks})

    def add(self, brief: IssueBrief, plan: Plan, conflicts: list[Conflict]) -> None:
        self.issues += 1
        if not plan.matched_rules and not plan.shadow:
            self.unmatched += 1
            if len(self.unmatched_samples) < UNMATCHED_SAMPLE:
                self.unmatched_samples.append(brief)
            return
        self.matched += 1
        for name in plan.matched_rules:
            self.playbooks.setdefault(name, PlaybookTally()).matched += 1
        for action in plan.actions:
            rule = getattr(action, "rule", None) or (plan.matched_rules[0] if plan.matched_rules else None)
            if rule is not None:
                tally = self.playbooks.setdefault(rule, PlaybookTally())
                tally.actions[would_do(action)] = tally.actions.get(would_do(action), 0) + 1
        for shadow in plan.shadow:
            tally = self.playbooks.setdefault(shadow.playbook, PlaybookTally(mode="shadow"))
            tally.matched += 1
            for would in shadow.would:
                tally.actions[would] = tally.actions.get(would, 0) + 1
        self.conflicts += len(conflicts)
        self.conflict_samples.extend(conflicts[: max(0, CONFLICT_SAMPLE - len(self.conflict_samples))])
        comment = next((a for a in plan.actions if isinstance(a, CommentAction)), None)
        if comment is not None and len(self.comments) < SAMPLE:
            self.comments.append(CommentSample(issue=brief, body=comment.body))


def conflicts_of(issue_id: str, matched: list[Playbook], plan: Plan) -> list[Conflict]:
    """Where matched playbooks wanted different things, who won and by which rule (worker/plan.py)."""
    out: list[Conflict] = []
    statuses = {p.name: s for p in matched for s in status_actions(p)}
    if len({s.status for s in statuses.values()}) > 1:
        winner = max(statuses.items(), key=lambda kv: STATUS_PRIORITY[kv[1].status])[0]
        out.append(Conflict(issue_id=issue_id, kind="status", wanted={k: would_do(v) for k, v in statuses.items()},
                            winner=winner, rule="the status that keeps the issue most visible wins"))
    assignees = {p.name: str(p.actions.assign) for p in matched if p.actions.assign}
    if len(set(assignees.values())) > 1:
        chosen = pick_assignee(matched, [])
        winner = chosen.rule if chosen is not None and chosen.rule else next(iter(assignees))
        out.append(Conflict(issue_id=issue_id, kind="assign", wanted=assignees, winner=winner,
                            rule="an explicit assignee beats owner; the first playbook wins among equals"))
    return out


def backtest_issue(
    issue: Issue, event: Event | None, rules: Rules, registry: HandlerRegistry, *, resource: str, action: str,
    now: datetime,
) -> tuple[Plan, list[Conflict]]:
    """The worker's analysis and plan for a past issue, as if `resource.action` had just arrived."""
    ctx = AnalysisContext(resource=resource, action=action, issue=issue, event=event, now=now,
                          options=rules.options())
    findings = run_handlers(registry, ctx)
    plan = build_plan(ctx, findings, rules)
    live = [p for p in rules.playbooks if p.mode == "live" and matches(p.when, ctx, findings)]
    if rules.mode == "first_match":
        live = live[:1]
    return plan, conflicts_of(issue.id, live, plan)
