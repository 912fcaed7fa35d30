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


def test_an_issue_lock_not_longer_than_the_job_timeout_is_refused() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(RESPONDER_JOB_TIMEOUT_S="30", RESPONDER_ISSUE_LOCK_S="30")
    message = str(info.value)
    assert message.startswith("RESPONDER_ISSUE_LOCK_S: 30 s must be longer than RESPONDER_JOB_TIMEOUT_S (30 s)")
    assert "\n" not in message
    with pytest.raises(SettingsError, match="RESPONDER_ISSUE_LOCK_S"):
        load_settings(RESPONDER_JOB_TIMEOUT_S="60")  # the default lock (40 s) is now too short


def test_short_jobs_by_default() -> None:
    """A killed worker's jobs run again after the job timeout plus arq's lease (5 + 10 s): 45 s."""
    settings = load_settings()
    assert settings.job_timeout_s == 30 and settings.job_timeout_s < settings.issue_lock_s < 45


def test_timeouts_nest_a_sentry_calls_budget_is_shorter_than_the_job_timeout() -> None:
    defaults = load_settings()
    assert defaults.issue_lock_s > defaults.job_timeout_s > defaults.call_budget_s  # 40 > 30 > 20
    assert load_settings(RESPONDER_JOB_TIMEOUT_S="9", RESPONDER_ISSUE_LOCK_S="12").call_budget_s == 6
    with pytest.raises(SettingsError) as info:
        load_settings(RESPONDER_JOB_TIMEOUT_S="20", SENTRY_RETRY_BUDGET_S="20")
    message = str(info.value)
    assert message.startswith("RESPONDER_JOB_TIMEOUT_S: 20 s must be longer than SENTRY_RETRY_BUDGET_S (20 s)")
    assert "\n" not in message
