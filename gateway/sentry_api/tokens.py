"""Service tokens for the read/act API: who is calling, and may they act.

`RESPONDER_SERVICE_TOKENS` holds `name:scope:token` entries, comma-separated; scope is `read` or
`read+act`. The name is what logs and job records show; the token itself is never logged. Separate
from the dashboard token on purpose: a service gets only what its scope says, people get the ops view.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr

from shared.settings import SettingsError


class Scope(StrEnum):
    READ = "read"
    READ_ACT = "read+act"


@dataclass(frozen=True)
class ServiceToken:
    name: str
    scope: Scope
    token: SecretStr

    @property
    def can_act(self) -> bool:
        return self.scope is Scope.READ_ACT


def parse_tokens(entries: list[SecretStr]) -> tuple[ServiceToken, ...]:
    """Parse the setting; an error names the entry's position, never its value."""
    tokens: list[ServiceToken] = []
    for position, entry in enumerate(entries, start=1):
        name, _, rest = entry.get_secret_value().partition(":")
        scope, _, token = rest.partition(":")
        if not name or not token or scope not in set(Scope):
            raise SettingsError(
                f"RESPONDER_SERVICE_TOKENS: entry {position} is not name:scope:token with scope read or read+act"
            )
        if len(token) < 16:
            raise SettingsError(f"RESPONDER_SERVICE_TOKENS: entry {position} ({name}): token under 16 characters")
        tokens.append(ServiceToken(name, Scope(scope), SecretStr(token)))
    names = [t.name for t in tokens]
    if len(set(names)) != len(names):
        raise SettingsError("RESPONDER_SERVICE_TOKENS: two entries share a name")
    return tuple(tokens)


def bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def identify(tokens: tuple[ServiceToken, ...], offered: str | None) -> ServiceToken | None:
    """The token offered, compared in constant time against every configured one."""
    if not offered:
        return None
    found = None
    for token in tokens:
        if hmac.compare_digest(token.token.get_secret_value().encode(), offered.encode()):
            found = token
    return found
