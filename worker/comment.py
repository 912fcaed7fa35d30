"""Render the responder's Markdown comment from a template a user can replace.

Text from events is untrusted: the template environment is sandboxed, and every `{{ value }}` is
redacted, then Markdown-escaped by default (the environment's `finalize`, worker/markdown.py), so a
finding added to the template is safe without anyone remembering a filter; `code` makes a code
span instead. The rendered comment is redacted once more before it leaves.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from jinja2 import StrictUndefined, Template, Undefined
from jinja2.sandbox import SandboxedEnvironment

from worker.actions import Action, AssignAction, ShadowPlan, StatusAction
from worker.analysis.base import AnalysisContext, Finding
from worker.analysis.registry import BUILTINS
from worker.markdown import code, md, redact_markdown

__all__ = ["code", "md", "render_comment"]


def describe_action(action: Action) -> str:
    if isinstance(action, AssignAction):
        return f"assign to {action.assignee}"
    if isinstance(action, StatusAction):
        details = action.details.model_dump(exclude_none=True) if action.details else {}
        extra = action.substatus or ", ".join(f"{k}={v}" for k, v in details.items())
        return f"set {action.status}" + (f" ({extra})" if extra else "")
    return action.kind


def headline(findings: dict[str, Finding]) -> str:
    parts = []
    if "classification" in findings:
        parts.append(findings["classification"].data.get("category", "unclassified").capitalize())
    if "regression" in findings:
        parts.append("regression")
    impact = findings.get("impact")
    if impact is not None:
        parts.append(f"{impact.data.get('severity', 'low')} impact")
    return " · ".join(parts) or "Sentry Responder analysis"


@lru_cache(maxsize=1)
def default_template() -> str:
    return files("worker").joinpath("templates/comment.md.j2").read_text()


@lru_cache(maxsize=8)
def _environment(strict: bool) -> SandboxedEnvironment:
    # finalize=md: what a template prints is escaped unless a filter already made it Markdown.
    env = SandboxedEnvironment(
        autoescape=False, trim_blocks=False, undefined=StrictUndefined if strict else Undefined, finalize=md
    )
    env.filters["code"] = code
    env.filters["md"] = md
    return env


@lru_cache(maxsize=16)
def _compiled(template: str) -> Template:
    """Compiling a template costs far more than rendering it (it was most of a job's CPU)."""
    return _environment(False).from_string(template)


def render_comment(
    ctx: AnalysisContext,
    findings: list[Finding],
    rules: list[str],
    actions: list[Action],
    template: str | None = None,
    shadow: list[ShadowPlan] | None = None,
) -> str:
    by_name = {f.handler: f for f in findings if f.error is None}
    text = _compiled(template or default_template()).render(
        issue=ctx.issue,
        event=ctx.event,
        resource=ctx.resource,
        action=ctx.action,
        findings=by_name,
        errors=[f for f in findings if f.error is not None],
        rules=rules,
        actions=[describe_action(a) for a in actions],
        headline=headline(by_name),
        builtin=set(BUILTINS),
        shadow=shadow or [],
    )
    return redact_markdown(text.strip())
