from __future__ import annotations

import pytest

from shared.settings import SettingsError, load_settings


def test_secrets_split_on_commas_for_rotation() -> None:
    settings = load_settings(SENTRY_CLIENT_SECRET="new, old")
    assert [s.get_secret_value() for s in settings.client_secrets] == ["new", "old"]


def test_no_secret_in_repr() -> None:
    settings = load_settings(SENTRY_CLIENT_SECRET="hush-secret", SENTRY_AUTH_TOKEN="hush-token")
    assert "hush" not in repr(settings)
    assert "hush" not in str(settings.model_dump())


def test_invalid_setting_is_one_line_naming_it() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(REDIS_URL="http://nope")
    message = str(info.value)
    assert message.startswith("REDIS_URL:")
    assert "\n" not in message


def test_invalid_number_names_the_variable_not_the_value() -> None:
    with pytest.raises(SettingsError, match=r"^RESPONDER_MAX_BODY_BYTES:"):
        load_settings(RESPONDER_MAX_BODY_BYTES="lots")


def test_gateway_needs_a_client_secret() -> None:
    with pytest.raises(SettingsError, match="SENTRY_CLIENT_SECRET"):
        load_settings().require_gateway()


def test_dry_run_defaults_on_without_a_token() -> None:
    assert load_settings().dry_run is True
    assert load_settings(SENTRY_AUTH_TOKEN="t", SENTRY_ORGANIZATION="o").dry_run is False
    assert load_settings(SENTRY_AUTH_TOKEN="t", RESPONDER_DRY_RUN="1").dry_run is True


def test_base_url_gets_a_trailing_slash() -> None:
    assert load_settings(SENTRY_BASE_URL="https://de.sentry.io/api/0").base_url == (
        "https://de.sentry.io/api/0/"
    )
