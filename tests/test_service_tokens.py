"""Service tokens: parsed strictly, compared in constant time, never shown; check-config names a bad entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from cli.main import app
from devtools.embedded_redis import EmbeddedRedis
from gateway.sentry_api.tokens import Scope, bearer, identify, parse_tokens
from shared.settings import Settings, SettingsError
from tests.helpers import SECRET

TOKEN = "0123456789abcdef:with:colons"


def test_entries_parse_with_their_scope_and_a_token_may_hold_colons() -> None:
    tokens = parse_tokens([SecretStr(f"bot:read:{TOKEN}"), SecretStr("agent:read+act:fedcba9876543210fedc")])
    assert [(t.name, t.scope, t.can_act) for t in tokens] == [("bot", Scope.READ, False), ("agent", Scope.READ_ACT, True)]
    assert identify(tokens, TOKEN) is tokens[0] and identify(tokens, "nope") is None and identify(tokens, None) is None
    assert bearer(f"Bearer {TOKEN}") == TOKEN and bearer("Basic x") is None and bearer("Bearer ") is None


@pytest.mark.parametrize("entry", ["bot:write:0123456789abcdef", "bot:read:", ":read:0123456789abcdef",
                                   "bot:read:short", "just-a-token-0123456789"])
def test_a_bad_entry_is_refused_without_quoting_it(entry: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_tokens([SecretStr(entry)])
    assert "RESPONDER_SERVICE_TOKENS" in str(caught.value) and "0123456789abcdef" not in str(caught.value)


def test_two_entries_may_not_share_a_name() -> None:
    with pytest.raises(SettingsError):
        parse_tokens([SecretStr("bot:read:0123456789abcdef"), SecretStr("bot:read+act:fedcba9876543210")])


def test_service_tokens_are_among_the_secrets_scrubbed_from_logs(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(RESPONDER_SERVICE_TOKENS=f"bot:read:{TOKEN}")
    assert TOKEN in settings.secret_values()
    assert TOKEN not in repr(settings)


def test_check_config_names_a_bad_service_token_entry(redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("RESPONDER_SERVICE_TOKENS", "bot:admin:0123456789abcdef")
    result = CliRunner().invoke(app, ["check-config"])
    assert result.exit_code == 2
    assert "RESPONDER_SERVICE_TOKENS: entry 1" in result.output and "0123456789abcdef" not in result.output
