"""The rule tester's core: for one delivery, each playbook's conditions checked one by one, and the
plan the worker would make. Pure: the same matching and planning code the worker runs."""

from __future__ import annotations

from pydantic import BaseModel, Field

from worker.actions import Plan
from worker.analysis.base import AnalysisContext, Finding
from worker.plan import Condition, build_plan, conditions
from worker.rules import Rules


class PlaybookExplanation(BaseModel):
    name: str
    mode: str
    matched: bool
    conditions: list[Condition] = Field(default_factory=list)
    used: bool = False  # in the live plan (first_match stops at the first live playbook that matched)


class Explanation(BaseModel):
    rules_mode: str
    playbooks: list[PlaybookExplanation]
    plan: Plan


def explain(ctx: AnalysisContext, findings: list[Finding], rules: Rules) -> Explanation:
    plan = build_plan(ctx, findings, rules)
    out = []
    for playbook in rules.playbooks:
        checked = conditions(playbook.when, ctx, findings)
        matched = all(c.matched for c in checked)
        used = playbook.name in plan.matched_rules if playbook.mode == "live" else False
        out.append(PlaybookExplanation(
            name=playbook.name, mode=playbook.mode, matched=matched, conditions=checked, used=used,
        ))
    return Explanation(rules_mode=rules.mode, playbooks=out, plan=plan)
