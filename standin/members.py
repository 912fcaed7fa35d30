"""Who an issue can be assigned to, resolved the way Sentry's `ActorField` does.

Accepted: `<user_id>`, `user:<user_id>`, `team:<team_id>` (numeric ids), a username, a user's
e-mail. Anything else (a team slug such as `team:orders`, `#orders`, an unknown name) is refused
with "Unable to resolve actor identifier"; a user outside the project's teams or a team without
access to the project is refused as Sentry refuses it (src/sentry/api/fields/actor.py and the
group validator's `validate_assignedTo`).
"""

from __future__ import annotations

from typing import Any

from standin.errors import Invalid
from standin.state import StandinState

UNRESOLVED = "Unable to resolve actor identifier"


def _find(state: StandinState, kind: str, ident: str) -> dict[str, Any] | None:
    pool = state.org["teams"] if kind == "team" else state.org["members"]
    return next((x for x in pool if x["id"] == ident), None)


def resolve_actor(state: StandinState, identifier: object) -> tuple[str, dict[str, Any]]:
    """("user" | "team", the seeded record) for an `assignedTo` value, or Sentry's refusal."""
    text = str(identifier).strip()
    kind, ident = "user", text
    if text.startswith(("user:", "team:")):
        kind, ident = text[:4], text[5:]
        if not ident.isdigit():
            raise Invalid.on("assignedTo", UNRESOLVED)
    elif not text.isdigit():
        match = next((m for m in state.org["members"] if text.lower() in (m["username"].lower(), m["email"].lower())),
                     None)
        if match is None:
            raise Invalid.on("assignedTo", UNRESOLVED)
        ident = match["id"]
    found = _find(state, kind, ident)
    if found is None:
        raise Invalid.on("assignedTo", UNRESOLVED)
    return kind, found


def check_access(project: dict[str, Any] | None, kind: str, actor: dict[str, Any]) -> None:
    teams = set(project["teams"]) if project else set()
    if kind == "user" and not teams & set(actor["teams"]):
        raise Invalid.on("assignedTo", "Cannot assign to non-team member")
    if kind == "team" and actor["id"] not in teams:
        raise Invalid.on("assignedTo", "Cannot assign to a team without access to the project")


def assignee(kind: str, actor: dict[str, Any]) -> dict[str, Any]:
    """The `assignedTo` object Sentry serializes on an issue."""
    if kind == "team":
        return {"type": "team", "id": actor["id"], "name": actor["slug"]}
    return {"type": "user", "id": actor["id"], "name": actor["name"], "email": actor["email"]}
