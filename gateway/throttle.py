"""Failed sign-ins per client address: the state behind the ops routes' 429 (pure, no I/O)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    """At most `max_failures` failed token checks per client address in `window_s`; then 429.

    In memory, per gateway process (a few replicas multiply the allowance, which a 32-character
    token does not notice); bounded to `max_clients` addresses, oldest forgotten first."""

    max_failures: int = 5
    window_s: float = 300.0
    max_clients: int = 10_000
    _failures: OrderedDict[str, list[float]] = field(default_factory=OrderedDict)

    def retry_after_s(self, client: str, now_s: float) -> int | None:
        recent = [t for t in self._failures.get(client, ()) if now_s - t < self.window_s]
        if len(recent) < self.max_failures:
            return None
        return max(1, int(self.window_s - (now_s - recent[0])) + 1)

    def failed(self, client: str, now_s: float) -> None:
        recent = [t for t in self._failures.pop(client, []) if now_s - t < self.window_s]
        self._failures[client] = [*recent, now_s][-self.max_failures :]
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
