"""Which Sentry client a job uses: the internal integration's one, or, for a public integration,
one per installation, with that installation's token, organization and budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shared.installations import InstallationStore
from shared.jobs import Delivery
from shared.sentry.client import SentryClient
from shared.sentry.installs import InstallationTokens, NotInstalled


@dataclass
class SentryClients:
    default: SentryClient | None = None  # internal integration (SENTRY_AUTH_TOKEN)
    tokens: InstallationTokens | None = None  # public integration (SENTRY_CLIENT_ID + RESPONDER_TOKEN_KEY)
    make: Callable[[str, str], SentryClient] | None = None  # (installation uuid, organization) -> client
    _by_installation: dict[str, SentryClient] = field(default_factory=dict)

    @property
    def store(self) -> InstallationStore | None:
        return self.tokens.store if self.tokens is not None else None

    @property
    def configured(self) -> bool:
        return self.default is not None or self.tokens is not None

    async def for_delivery(self, delivery: Delivery) -> SentryClient | None:
        """None when there is nobody to call Sentry as (no token: analysis from the payload)."""
        if self.tokens is None or self.make is None:
            return self.default
        uuid = delivery.installation_uuid
        if uuid is None:
            return None
        client = self._by_installation.get(uuid)
        if client is None:
            installation = await self.tokens.store.get(uuid)
            if installation is None:
                raise NotInstalled(uuid)
            client = self._by_installation[uuid] = self.make(uuid, installation.organization)
        return client

    async def forget(self, uuid: str) -> None:
        client = self._by_installation.pop(uuid, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        for client in [self.default, *self._by_installation.values()]:
            if client is not None:
                await client.aclose()
        if self.tokens is not None:
            await self.tokens.aclose()
