"""One settings model for every process, read from the environment once, at start-up.

Names follow what users of Sentry tooling already know (`SENTRY_*`, `REDIS_URL`); the responder's own
knobs are `RESPONDER_*`. Secrets are `SecretStr`, so neither `repr()` nor a log line shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared import keys
from shared.redis import RedisConfig, RedisTLS, parse_hosts, parse_redis_url

DEFAULT_BASE_URL = "https://sentry.io/api/0/"
MIN_DASHBOARD_TOKEN_CHARS = 32


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming it, never its value."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


def _outlives(value_s: float, inner_s: float | None, inner_name: str, or_else: str) -> float:
    """Timeouts nest: `value_s` must be longer than the timeout it wraps (`inner_s`, when set)."""
    if inner_s is not None and value_s <= inner_s:
        raise ValueError(f"{value_s:g} s must be longer than {inner_name} ({inner_s:g} s), or {or_else}")
    return value_s


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", populate_by_name=True, validate_default=True
    )

    # --- Sentry
    client_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias=_env("SENTRY_CLIENT_SECRET")
    )
    auth_token: SecretStr | None = Field(None, validation_alias=_env("SENTRY_AUTH_TOKEN"))
    organization: str | None = Field(None, validation_alias=_env("SENTRY_ORGANIZATION"))
    base_url: str = Field(DEFAULT_BASE_URL, validation_alias=_env("SENTRY_BASE_URL"))
    client_id: str | None = Field(None, validation_alias=_env("SENTRY_CLIENT_ID"))
    # Public integrations: installation tokens are stored encrypted with this key (Fernet keys,
    # comma-separated for rotation: the first encrypts, all decrypt).
    token_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias=_env("RESPONDER_TOKEN_KEY")
    )
    sentry_timeout_s: float = Field(10.0, gt=0, validation_alias=_env("SENTRY_TIMEOUT_S"))
    sentry_rate_limit_per_min: int = Field(
        100, gt=0, validation_alias=_env("RESPONDER_SENTRY_RATE_LIMIT_PER_MIN")
    )
    # Share of the per-minute budget kept for alerts and new issues when repeated errors pile up.
    sentry_budget_reserve: float = Field(
        0.25, ge=0, lt=1, validation_alias=_env("RESPONDER_SENTRY_BUDGET_RESERVE")
    )
    sentry_max_in_flight: int = Field(
        16, gt=0, validation_alias=_env("RESPONDER_SENTRY_MAX_IN_FLIGHT")
    )
    # All of one call in a job (tries, timeouts, backoff, short waits): shorter than the job's
    # timeout (checked below), so a call that keeps failing ends the try, never the job's deadline.
    # Unset: two thirds of RESPONDER_JOB_TIMEOUT_S (`call_budget_s`).
    sentry_retry_budget_s: float | None = Field(None, gt=0, validation_alias=_env("SENTRY_RETRY_BUDGET_S"))

    # --- Redis and the queue
    # repr=False: the URL may carry a password (`settings.redis.describe()` masks it)
    redis_url: str = Field("redis://localhost:6379/0", validation_alias=_env("REDIS_URL"), repr=False)
    queue_name: str = Field(keys.QUEUE, validation_alias=_env("RESPONDER_QUEUE_NAME"))
    dedup_ttl_s: int = Field(3 * 24 * 3600, gt=0, validation_alias=_env("RESPONDER_DEDUP_TTL_S"))
    enqueue_timeout_s: float = Field(
        0.25, gt=0, validation_alias=_env("RESPONDER_ENQUEUE_TIMEOUT_S")
    )
    # Managed and replicated Redis (shared/redis.py): Sentinel, TLS files, and how many replicas
    # must hold a delivery before the gateway answers 2xx.
    redis_sentinels: str | None = Field(None, validation_alias=_env("REDIS_SENTINELS"))
    redis_sentinel_master: str = Field("mymaster", validation_alias=_env("REDIS_SENTINEL_MASTER"))
    redis_sentinel_password: SecretStr | None = Field(
        None, validation_alias=_env("REDIS_SENTINEL_PASSWORD")
    )
    redis_tls_ca_file: Path | None = Field(None, validation_alias=_env("REDIS_TLS_CA_FILE"))
    redis_tls_cert_file: Path | None = Field(None, validation_alias=_env("REDIS_TLS_CERT_FILE"))
    redis_tls_key_file: Path | None = Field(None, validation_alias=_env("REDIS_TLS_KEY_FILE"))
    redis_tls_check_hostname: bool = Field(True, validation_alias=_env("REDIS_TLS_CHECK_HOSTNAME"))
    redis_min_replicas: int = Field(0, ge=0, validation_alias=_env("RESPONDER_REDIS_MIN_REPLICAS"))
    redis_replica_timeout_s: float = Field(
        0.2, gt=0, validation_alias=_env("RESPONDER_REDIS_REPLICA_TIMEOUT_S")
    )

    # --- Gateway
    timestamp_tolerance_s: int = Field(
        300, ge=0, validation_alias=_env("RESPONDER_TIMESTAMP_TOLERANCE_S")
    )
    max_body_bytes: int = Field(
        1024 * 1024, gt=0, validation_alias=_env("RESPONDER_MAX_BODY_BYTES")
    )
    dashboard_token: SecretStr | None = Field(
        None, validation_alias=_env("RESPONDER_DASHBOARD_TOKEN")
    )
    spool_dir: Path = Field(Path("./spool"), validation_alias=_env("RESPONDER_SPOOL_DIR"))
    spool_max_bytes: int = Field(
        256 * 1024 * 1024, gt=0, validation_alias=_env("RESPONDER_SPOOL_MAX_BYTES")
    )
    # Named in /healthz, so whoever started this process (`dev`) knows it is this one answering.
    instance_id: str | None = Field(None, validation_alias=_env("RESPONDER_INSTANCE_ID"))
    # Issue 18: the gateway's surfaces (SECURITY.md says why each exists).
    dashboard_session_s: float = Field(
        12 * 3600, gt=0, validation_alias=_env("RESPONDER_DASHBOARD_SESSION_S")
    )
    # The address the server listens on (the `gateway` command sets it): without a dashboard
    # token the ops routes are served only when it is a loopback address.
    bind_host: str | None = Field(None, validation_alias=_env("RESPONDER_BIND_HOST"))
    # Accept a delivery signed only in the legacy Sentry-App-Signature header for any resource
    # (by default only for the ones Sentry signs that way: see gateway/intake.py).
    legacy_signature_any_resource: bool = Field(
        False, validation_alias=_env("RESPONDER_LEGACY_SIGNATURE_ANY_RESOURCE")
    )
    body_timeout_s: float = Field(10.0, gt=0, validation_alias=_env("RESPONDER_BODY_TIMEOUT_S"))
    max_connections: int = Field(512, gt=0, validation_alias=_env("RESPONDER_MAX_CONNECTIONS"))
    # Bytes of request bodies held at once beyond the first 64 KiB of each (stalled uploads).
    body_buffer_bytes: int = Field(
        64 * 1024 * 1024, gt=0, validation_alias=_env("RESPONDER_BODY_BUFFER_BYTES")
    )
    # Read/act API and MCP server for internal services: "name:scope:token" entries, comma-separated,
    # scope `read` or `read+act` (gateway/sentry_api/tokens.py).
    service_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias=_env("RESPONDER_SERVICE_TOKENS")
    )
    # Most of the per-minute Sentry budget the read API may use; it also never eats the reserve.
    api_budget_share: float = Field(0.25, gt=0, le=1, validation_alias=_env("RESPONDER_API_BUDGET_SHARE"))

    # --- Worker
    dry_run_setting: bool | None = Field(None, validation_alias=_env("RESPONDER_DRY_RUN"))
    rules_path: Path | None = Field(None, validation_alias=_env("RESPONDER_RULES"))
    rules_dir: Path | None = Field(None, validation_alias=_env("RESPONDER_RULES_DIR"))  # <org-slug>.yaml
    max_jobs: int = Field(20, gt=0, validation_alias=_env("RESPONDER_WORKER_CONCURRENCY"))
    worker_metrics_port: int = Field(9101, ge=0, le=65535, validation_alias=_env("RESPONDER_WORKER_METRICS_PORT"))
    max_tries: int = Field(5, ge=1, validation_alias=_env("RESPONDER_MAX_TRIES"))
    retry_base_s: float = Field(2.0, gt=0, validation_alias=_env("RESPONDER_RETRY_BASE_S"))
    retry_max_s: float = Field(300.0, gt=0, validation_alias=_env("RESPONDER_RETRY_MAX_S"))
    # Short, because nothing sleeps long in a job (long waits defer it): a SIGKILLed worker's jobs
    # run again after this plus arq's lease (about 45 s in all).
    job_timeout_s: float = Field(30.0, gt=0, validation_alias=_env("RESPONDER_JOB_TIMEOUT_S"))
    shutdown_grace_s: int = Field(25, ge=0, validation_alias=_env("RESPONDER_SHUTDOWN_GRACE_S"))
    poll_delay_s: float = Field(0.1, gt=0, validation_alias=_env("RESPONDER_POLL_DELAY_S"))
    # Longer than a job may run (checked below), shorter than arq's lease on a crashed worker's job.
    issue_lock_s: float = Field(40.0, gt=0, validation_alias=_env("RESPONDER_ISSUE_LOCK_S"))
    quiet_window_s: float = Field(60.0, ge=0, validation_alias=_env("RESPONDER_QUIET_WINDOW_S"))
    cache_ttl_s: int = Field(60, ge=0, validation_alias=_env("RESPONDER_CACHE_TTL_S"))
    analysis_max_calls: int = Field(8, ge=3, validation_alias=_env("RESPONDER_ANALYSIS_MAX_CALLS"))
    release_cache_ttl_s: int = Field(600, ge=0, validation_alias=_env("RESPONDER_RELEASE_CACHE_TTL_S"))
    tags_cache_ttl_s: int = Field(300, ge=0, validation_alias=_env("RESPONDER_TAGS_CACHE_TTL_S"))
    job_retention_count: int = Field(
        10_000, gt=0, validation_alias=_env("RESPONDER_JOB_RETENTION_COUNT")
    )
    job_retention_s: int = Field(
        7 * 24 * 3600, gt=0, validation_alias=_env("RESPONDER_JOB_RETENTION_S")
    )
    # Share of the Sentry budget a backtest may use; the rest stays for live work.
    backtest_budget_share: float = Field(
        0.5, gt=0, le=1, validation_alias=_env("RESPONDER_BACKTEST_BUDGET_SHARE")
    )

    # --- Self-reporting to Sentry (shared/selfreport.py)
    sentry_dsn: SecretStr | None = Field(None, validation_alias=_env("RESPONDER_SENTRY_DSN"))
    sentry_environment: str = Field("production", validation_alias=_env("RESPONDER_SENTRY_ENVIRONMENT"))
    sentry_sample_rate: float = Field(1.0, ge=0, le=1, validation_alias=_env("RESPONDER_SENTRY_SAMPLE_RATE"))
    sentry_traces_sample_rate: float = Field(
        0.0, ge=0, le=1, validation_alias=_env("RESPONDER_SENTRY_TRACES_SAMPLE_RATE")
    )
    # Deliveries about the DSN's own project are skipped (no write-back loop on our own errors).
    skip_own_project: bool = Field(True, validation_alias=_env("RESPONDER_SKIP_OWN_PROJECT"))

    # --- Logging
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", validation_alias=_env("RESPONDER_LOG_FORMAT")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("RESPONDER_LOG_LEVEL")
    )

    @field_validator("client_secrets", "token_keys", "service_tokens", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("dashboard_token", mode="before")
    @classmethod
    def _check_dashboard_token(cls, value: object) -> object:
        """Empty means unset (what `RESPONDER_DASHBOARD_TOKEN=` in an env file gives); anything
        else must be long enough that nobody guesses it."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value.strip()) < MIN_DASHBOARD_TOKEN_CHARS:
            raise ValueError(
                f"must be at least {MIN_DASHBOARD_TOKEN_CHARS} characters "
                "(make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        parse_redis_url(value)  # RedisUrlError (a ValueError) names the problem, never the URL
        return value

    @field_validator("job_timeout_s")
    @classmethod
    def _a_job_outlives_its_calls(cls, value: float, info: ValidationInfo) -> float:
        return _outlives(value, info.data.get("sentry_retry_budget_s"), "SENTRY_RETRY_BUDGET_S",
                         "a Sentry call that keeps failing would outlive the job")

    @field_validator("issue_lock_s")
    @classmethod
    def _lock_outlives_a_job(cls, value: float, info: ValidationInfo) -> float:
        return _outlives(value, info.data.get("job_timeout_s"), "RESPONDER_JOB_TIMEOUT_S",
                         "a second job for an issue could start while the first still writes")

    @field_validator("redis_sentinels")
    @classmethod
    def _check_sentinels(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            parse_hosts(value)
            return value
        return None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def call_budget_s(self) -> float:
        """How long one Sentry call in a job may take in all, retries included."""
        return self.sentry_retry_budget_s or self.job_timeout_s * 2 / 3

    @property
    def redis(self) -> RedisConfig:
        """Where Redis is and how to log in, for `shared.redis.connect` and the queue's arq pool."""
        tls = RedisTLS(
            ca_file=str(self.redis_tls_ca_file) if self.redis_tls_ca_file else None,
            cert_file=str(self.redis_tls_cert_file) if self.redis_tls_cert_file else None,
            key_file=str(self.redis_tls_key_file) if self.redis_tls_key_file else None,
            check_hostname=self.redis_tls_check_hostname,
        )
        return parse_redis_url(
            self.redis_url, sentinels=self.redis_sentinels, sentinel_master=self.redis_sentinel_master,
            sentinel_password=self.redis_sentinel_password, tls=tls,
        )

    @property
    def mode(self) -> Literal["internal", "public", "payload-only"]:
        """How the worker gets Sentry tokens: one internal-integration token, installations of a
        public integration (a client id and a key to store their tokens), or none at all."""
        if self.auth_token is not None:
            return "internal"
        if self.client_id and self.token_keys and self.client_secrets:
            return "public"
        return "payload-only"

    @property
    def dry_run(self) -> bool:
        """Dry-run unless told otherwise when there is no token to write with."""
        if self.dry_run_setting is None:
            return self.mode == "payload-only"
        return self.dry_run_setting

    def secret_values(self) -> list[str]:
        """Every secret this process holds, for log scrubbing."""
        values = [s.get_secret_value() for s in (*self.client_secrets, *self.token_keys)]
        for secret in (self.auth_token, self.dashboard_token, self.sentry_dsn):
            if secret is not None:
                values.append(secret.get_secret_value())
        values.extend(self.redis.secret_values())
        values += [s.get_secret_value().split(":", 2)[-1] for s in self.service_tokens]
        return [v for v in values if v]

    def require_gateway(self) -> None:
        if not self.client_secrets:
            raise SettingsError(
                "SENTRY_CLIENT_SECRET: not set; the gateway cannot verify deliveries without it"
            )

    def require_sentry(self) -> None:
        if self.auth_token is not None and not self.organization:
            raise SettingsError("SENTRY_ORGANIZATION: required when SENTRY_AUTH_TOKEN is set")
        if self.client_id and self.auth_token is None and not self.token_keys:
            raise SettingsError(
                "RESPONDER_TOKEN_KEY: required with SENTRY_CLIENT_ID, to store installation tokens encrypted"
            )
        if self.token_keys:
            from cryptography.fernet import Fernet

            for key in self.token_keys:
                try:
                    Fernet(key.get_secret_value().encode())
                except ValueError:
                    raise SettingsError(
                        "RESPONDER_TOKEN_KEY: not a Fernet key (32 url-safe base64 bytes; "
                        "make one with `sentry-responder new-token-key`)"
                    ) from None


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning pydantic's error into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        alias = Settings.model_fields[field].validation_alias if field in Settings.model_fields else None
        name = alias.choices[0] if isinstance(alias, AliasChoices) else field
        raise SettingsError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
