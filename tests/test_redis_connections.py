"""The one connection factory: REDIS_URL as operators write it, TLS and ACL users against a real
redis-server, and passwords that appear in no repr, error or log line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from redis.exceptions import AuthenticationError, ConnectionError
from typer.testing import CliRunner

from cli.main import app
from devtools.embedded_redis import EmbeddedRedis, EmbeddedSentinel, TLSFiles
from shared.jobs import JobState
from shared.jobstore import JobStore
from shared.logging import SecretScrubber
from shared.queue import arq_pool, arq_settings
from shared.redis import RedisConfig, RedisTLS, connect, connect_sync, parse_redis_url
from shared.settings import SettingsError, load_settings
from tests.helpers import delivery, run_burst_worker
from tests.tls_certs import make_tls_files

PASSWORD = "pa:ss@w0rd/with-odd%chars"
QUOTED = "pa%3Ass%40w0rd%2Fwith-odd%25chars"


def test_plain_url() -> None:
    config = parse_redis_url("redis://cache.internal:6380/2")
    assert config.hosts == (("cache.internal", 6380),) and config.db == 2
    assert config.tls is None and config.sentinel_master is None and config.password is None


def test_acl_user_and_password_are_percent_decoded() -> None:
    config = parse_redis_url(f"redis://responder:{QUOTED}@h:6379/0")
    assert config.username == "responder"
    assert config.password is not None and config.password.get_secret_value() == PASSWORD


def test_password_alone_is_a_password() -> None:
    config = parse_redis_url("redis://:only-a-password@h/0")
    assert config.username is None and config.password is not None
    assert config.password.get_secret_value() == "only-a-password"


def test_sentinel_url_names_sentinels_master_and_database() -> None:
    config = parse_redis_url(f"redis+sentinel://responder:{QUOTED}@s1:26379,s2:26380,s3/prod/3")
    assert config.hosts == (("s1", 26379), ("s2", 26380), ("s3", 26379))
    assert config.sentinel_master == "prod" and config.db == 3 and config.username == "responder"


def test_sentinels_from_their_own_settings() -> None:
    settings = load_settings(
        REDIS_URL=f"rediss://responder:{QUOTED}@ignored:1/4", REDIS_SENTINELS="s1:26379, s2:26379",
        REDIS_SENTINEL_MASTER="main", REDIS_TLS_CA_FILE="/etc/ca.pem",
    )
    config = settings.redis
    assert config.hosts == (("s1", 26379), ("s2", 26379)) and config.sentinel_master == "main"
    assert config.db == 4 and config.tls == RedisTLS(ca_file="/etc/ca.pem")


def test_rediss_takes_the_tls_files_from_settings() -> None:
    settings = load_settings(
        REDIS_URL="rediss://h:6380/0", REDIS_TLS_CA_FILE="/ca.pem", REDIS_TLS_CERT_FILE="/c.pem",
        REDIS_TLS_KEY_FILE="/k.pem", REDIS_TLS_CHECK_HOSTNAME="false",
    )
    assert settings.redis.tls == RedisTLS("/ca.pem", "/c.pem", "/k.pem", check_hostname=False)
    assert load_settings(REDIS_URL="redis://h:6379/0", REDIS_TLS_CA_FILE="/ca.pem").redis.tls is None


@pytest.mark.parametrize("url", [
    "http://h:6379", f"redis://u:{QUOTED}@h:notaport/0", f"redis://u:{QUOTED}@h:6379/db",
    f"redis+sentinel://u:{QUOTED}@/mymaster/0",
])
def test_a_bad_url_is_named_without_its_password(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(REDIS_URL=url)
    assert str(caught.value).startswith("REDIS_URL: ")
    assert PASSWORD not in str(caught.value) and QUOTED not in str(caught.value)


def test_password_in_no_repr_and_in_the_log_scrubber() -> None:
    settings = load_settings(
        REDIS_URL=f"redis+sentinel://responder:{QUOTED}@s1:26379/mymaster/0",
        REDIS_SENTINEL_PASSWORD="sentinel-secret-value",
    )
    config = settings.redis
    shown = [repr(settings), str(settings), repr(config), str(config), config.describe(),
             repr(arq_settings(config)), str(settings.model_dump(exclude={"redis_url"}))]
    for text in shown:
        assert PASSWORD not in text and QUOTED not in text and "sentinel-secret-value" not in text, text
    assert config.describe() == "redis+sentinel://responder:***@s1:26379/mymaster/0"
    assert {PASSWORD, "sentinel-secret-value"} <= set(settings.secret_values())


def test_arq_settings_come_from_the_same_config() -> None:
    sentinel = arq_settings(parse_redis_url(f"rediss+sentinel://u:{QUOTED}@s1:26379,s2:26379/main/2",
                                            tls=RedisTLS(ca_file="/ca.pem")))
    assert sentinel.sentinel and sentinel.host == [("s1", 26379), ("s2", 26379)]
    assert sentinel.sentinel_master == "main" and sentinel.database == 2 and sentinel.ssl
    assert sentinel.username == "u" and sentinel.password == PASSWORD and sentinel.ssl_ca_certs == "/ca.pem"
    plain = arq_settings(parse_redis_url("redis://h:6390/1"))
    assert (plain.host, plain.port, plain.database, plain.ssl, plain.sentinel) == ("h", 6390, 1, False, False)


# --- against real servers


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def secure_server(tls_files: TLSFiles) -> Iterator[EmbeddedRedis]:
    """TLS with client certificates required, and an ACL user with a password."""
    acl = ["--user", "responder", "on", f">{PASSWORD}", "~*", "&*", "+@all"]
    with EmbeddedRedis(tls=tls_files, extra_args=["--tls-auth-clients", "yes", *acl]) as server:
        yield server


def secure_env(server: EmbeddedRedis, files: TLSFiles, password: str = QUOTED) -> dict[str, str]:
    return {
        "REDIS_URL": f"rediss://responder:{password}@127.0.0.1:{server.tls_port}/0",
        "REDIS_TLS_CA_FILE": str(files.ca_file), "REDIS_TLS_CERT_FILE": str(files.cert_file),
        "REDIS_TLS_KEY_FILE": str(files.key_file),
    }


async def test_tls_and_acl_user_against_a_real_server(secure_server: EmbeddedRedis, tls_files: TLSFiles) -> None:
    config = load_settings(**secure_env(secure_server, tls_files)).redis
    client = connect(config)
    try:
        assert await client.execute_command("ACL", "WHOAMI") in (b"responder", "responder")
        await client.set("tls-probe", "1")
        assert await client.get("tls-probe") == b"1"
    finally:
        await client.aclose()
    sync_client = connect_sync(config)
    assert sync_client.execute_command("ACL", "WHOAMI") in (b"responder", "responder")
    sync_client.close()
    pool = arq_pool(config, "responder:queue")  # the worker's pool
    try:
        assert await pool.ping()
    finally:
        await pool.aclose()


async def test_tls_verifies_the_server_against_the_ca(secure_server: EmbeddedRedis, tls_files: TLSFiles) -> None:
    other_ca = make_tls_files(tls_files.ca_file.parent / "other")
    env = secure_env(secure_server, tls_files) | {"REDIS_TLS_CA_FILE": str(other_ca.ca_file)}
    # generous: a handshake on a busy machine can take over a second, and a timeout is not the refusal tested
    client = connect(load_settings(**env).redis, timeout_s=30.0)
    try:
        with pytest.raises(ConnectionError) as caught:
            await client.ping()
        assert "certificate verify failed" in str(caught.value).lower()
    finally:
        await client.aclose()


async def test_wrong_password_fails_without_quoting_it(secure_server: EmbeddedRedis, tls_files: TLSFiles) -> None:
    wrong = "wrong-password-value-123"
    client = connect(load_settings(**secure_env(secure_server, tls_files, password=wrong)).redis)
    try:
        with pytest.raises(AuthenticationError) as caught:
            await client.ping()
        assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    finally:
        await client.aclose()
    plain = sync_redis.Redis(port=secure_server.port)  # the plain port keeps the default user
    assert plain.ping()
    plain.close()


async def test_gateway_and_worker_run_over_tls_with_an_acl_user(
    secure_server: EmbeddedRedis, tls_files: TLSFiles, client_for: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """The whole path, intake to finished record, on the secure connection only."""
    env = secure_env(secure_server, tls_files)
    client = await client_for(**env)
    body, headers = delivery("issue.created")
    response = await client.post("/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert (await client.get("/readyz")).json()["redis"] is True
    settings = load_settings(
        **env, SENTRY_CLIENT_SECRET="x", RESPONDER_WORKER_METRICS_PORT="0",
        RESPONDER_SPOOL_DIR=str(tmp_path / "spool"),  # no Sentry token: analysis from the payload
    )
    await run_burst_worker(settings)
    redis = connect(settings.redis)
    try:
        record = await JobStore(redis).get(headers["Request-ID"])
    finally:
        await redis.aclose()
    assert record is not None and record.state in (JobState.SUCCEEDED, JobState.SKIPPED), record


def test_config_repr_is_the_masked_url() -> None:
    config = RedisConfig(hosts=(("h", 1),), username="u", password=None)
    assert repr(config) == "RedisConfig('redis://u@h:1/0')"


async def test_password_in_no_page_log_line_or_cli_output(
    secure_server: EmbeddedRedis, tls_files: TLSFiles, client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = secure_env(secure_server, tls_files)
    client = await client_for(**env)
    for path in ("/", "/api/jobs", "/api/stats", "/readyz", "/metrics"):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert PASSWORD not in response.text and QUOTED not in response.text, path
    settings = load_settings(**env)
    scrubbed = SecretScrubber(settings.secret_values()).scrub(f"connecting to {settings.redis_url} with {PASSWORD}")
    assert PASSWORD not in scrubbed
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SENTRY_CLIENT_SECRET", "x")
    output = CliRunner().invoke(app, ["check-config"]).output
    assert f"rediss://responder:***@127.0.0.1:{secure_server.tls_port}/0" in output
    assert PASSWORD not in output and QUOTED not in output


async def test_sentinel_settings_reach_the_primary(tmp_path: Path) -> None:
    """REDIS_SENTINELS + REDIS_SENTINEL_MASTER: asyncio, sync and the worker's pool all ask the
    sentinel for the primary and land on it."""
    with EmbeddedRedis(data_dir=tmp_path / "primary") as primary:
        sentinel = EmbeddedSentinel(primary.port, master_name="main", quorum=1).start()
        try:
            settings = load_settings(REDIS_URL="redis://ignored:1/3", REDIS_SENTINELS=f"127.0.0.1:{sentinel.port}",
                                     REDIS_SENTINEL_MASTER="main")
            client = connect(settings.redis)
            pool = arq_pool(settings.redis, "responder:queue")
            try:
                await client.set("via-sentinel", "1")
                assert await pool.get("via-sentinel") == b"1"
            finally:
                await client.aclose()
                await pool.aclose()
            sync_client = connect_sync(settings.redis)
            assert sync_client.get("via-sentinel") == b"1"
            sync_client.close()
            assert sync_redis.Redis(port=primary.port, db=3).get("via-sentinel") == b"1"
        finally:
            sentinel.close()
