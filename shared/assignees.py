"""Assignees in the forms Sentry's `assignedTo` accepts, checked when the rules file loads
and when a service asks for an assignment through the read/act API.

Sentry takes `<user_id>`, `user:<user_id>`, a username, a user's e-mail, or `team:<team_id>`
with the team's numeric id. A team slug (`team:orders`, `#orders`) is refused by Sentry with
"Unable to resolve actor identifier", so it is refused here first, with the line it is on.
"""

from __future__ import annotations

import re

_ID_FORM = re.compile(r"^(user|team):(?P<id>.*)$")
_USERNAME = re.compile(r"^[^\s:#]+$")


def check_assignee(value: str) -> str:
    """The value unchanged when Sentry would accept its form; ValueError saying why not."""
    text = value.strip()
    if text.startswith("#"):
        raise ValueError(
            f"{value!r} is a team slug; Sentry assigns teams by numeric id only: team:<team_id>"
        )
    match = _ID_FORM.match(text)
    if match is not None:
        if not match["id"].isdigit():
            kind = match.group(1)
            hint = "team:<team_id>" if kind == "team" else "user:<user_id>, a username or an e-mail"
            raise ValueError(f"{value!r} is not an id Sentry resolves (it answers \"Unable to resolve "
                             f"actor identifier\"); use {hint} with the numeric id")
        return text
    if not _USERNAME.match(text):
        raise ValueError(f"{value!r} is not a Sentry assignee: use user:<id>, team:<id>, a username or an e-mail")
    return text
