"""Render the responder's Markdown comment from a template a user can replace.

Text from events is untrusted: the template environment is sandboxed, and every `{{ value }}` is
redacted, then Markdown-escaped by default (the environment's `finalize`, worker/markdown.py), so a
finding added to the template is safe without anyone remembering a filter; `code` makes a code
span instead. The rendered comment is redacted once more before it leaves.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from importlib.resources import files

from jinja2 import StrictUndefined, Template, Undefined
from jinja2.sandbox import SandboxedEnvironment

from worker.actions import Action, AssignAction, ShadowPlan, StatusAction
from worker.analysis.base import AnalysisContext, Finding
from worker.analysis.registry import BUILTINS
from worker.analysis.related import SAFE_LINK
from worker.markdown import Markdown, code, md, redact_markdown

__all__ = ["code", "md", "render_comment"]


def num(value: object) -> str:
    """A count with thousands separators; anything else as it is."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def duration(minutes: object) -> str:
    """Minutes as a person says them: 20 min, 3 h, 6 d."""
    if not isinstance(minutes, int):
        return ""
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} d"


def hhmm(value: object) -> str:
    return value.strftime("%H:%M") if isinstance(value, datetime) else ""


ROOT_CAUSE_HEADING = "**Sentry's root cause (Seer):**"


def root_cause_section(finding: Finding | None) -> Markdown:
    """The root-cause paragraph, the same whether rendered with the comment or spliced into it;
    Seer's text is escaped like event text."""
    if finding is None:
        return Markdown("")
    data = finding.data
    text = f"{ROOT_CAUSE_HEADING} {md(data.get('description') or '')}"
    if data.get("key_step"):
        text += f" Key step: {md(data['key_step'])}"
        text += f" ({code(data['file'])})" if data.get("file") else ""
    return Markdown(text.strip())


def link(url: object) -> Markdown:
    """Template filter: a plain http(s) URL for a Markdown link target, or nothing."""
    return Markdown(url) if isinstance(url, str) and SAFE_LINK.match(url) else Markdown("")


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
    env.filters["num"] = num
    env.filters["hhmm"] = hhmm
    env.filters["duration"] = duration
    env.filters["link"] = link
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
        skipped=ctx.facts.skipped,
        root_cause_section=root_cause_section(by_name.get("root_cause")),
        shadow=shadow or [],
    )
    return redact_markdown(text.strip())
