"""A compact plain-text digest of an issue, for a language model or a chat message.

Pure: issue, latest event and the responder's findings in, text out. What, where (top in-app
frames), since when and how often, who, what changed, the last breadcrumbs, what the responder
found. Secrets are masked (shared/sentry/redact.py) before the text is cut to `max_chars`, so a
cut can never leave half a secret unmasked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.sentry_api.models import ResponderView
from shared.sentry.models import Event, Issue
from shared.sentry.redact import redact
from shared.sentry.stack import normalize_stack

TOP_FRAMES = 3
LAST_BREADCRUMBS = 5
CUT = "\n[…]"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "?"


def _breadcrumbs(event: Event) -> list[dict[str, Any]]:
    for entry in event.entries:
        if entry.get("type") == "breadcrumbs":
            values = (entry.get("data") or {}).get("values") or []
            return [v for v in values if isinstance(v, dict)][-LAST_BREADCRUMBS:]
    return []


def _what(issue: Issue, event: Event | None) -> list[str]:
    lines = [f"Issue {issue.short_id or issue.id}: {issue.title}"]
    lines.append(f"Level {issue.level or '?'}, status {issue.status}, project {issue.project.slug or '?'}")
    stack = normalize_stack(event) if event else None
    if stack and stack.exceptions:
        top = stack.exceptions[0]
        lines.append(f"Error: {top.type or 'Error'}: {top.value or ''}".rstrip(": "))
        frames = stack.top_in_app[:TOP_FRAMES]
        if frames:
            lines.append("Where (innermost in-app frames first):")
            lines += [f"  {f.file}:{f.line or '?'} in {f.function}" for f in frames]
    elif issue.culprit:
        lines.append(f"Where: {issue.culprit}")
    return lines


def _when_who_changed(issue: Issue, event: Event | None) -> list[str]:
    who = issue.assigned_to
    lines = [
        f"Since {_when(issue.first_seen)}, last seen {_when(issue.last_seen)}: "
        f"{issue.count} events, {issue.user_count} users",
        f"Assigned to: {f'{who.type}:{who.name or who.id}' if who else 'nobody'}",
    ]
    changed = []
    if issue.first_release:
        changed.append(f"first in release {issue.first_release.version}")
    if event and event.release:
        changed.append(f"latest event in release {event.release}")
    if event and event.env:
        changed.append(f"environment {event.env}")
    if changed:
        lines.append("What changed: " + ", ".join(changed))
    return lines


def _crumbs(event: Event | None) -> list[str]:
    crumbs = _breadcrumbs(event) if event else []
    if not crumbs:
        return []
    out = ["Last breadcrumbs:"]
    for crumb in crumbs:
        text = crumb.get("message") or (crumb.get("data") or {}).get("url") or ""
        out.append(f"  [{crumb.get('category') or crumb.get('type') or '?'}] {str(text)[:200]}")
    return out


def _findings(view: ResponderView | None) -> list[str]:
    if view is None or not view.findings:
        return []
    out = [f"Responder findings (job {view.job_id}):"]
    out += [f"  {f.get('handler')}: {str(f.get('summary') or '')[:300]}" for f in view.findings]
    return out


def render_digest(issue: Issue, event: Event | None, view: ResponderView | None, max_chars: int) -> str:
    sections = [_what(issue, event), _when_who_changed(issue, event), _crumbs(event), _findings(view)]
    text = redact("\n".join(line for section in sections for line in section))
    if len(text) <= max_chars:
        return text
    return text[: max(0, max_chars - len(CUT))] + CUT
