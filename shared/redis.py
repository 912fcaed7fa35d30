"""The one way processes connect to Redis: a plain server, TLS, an ACL user, or Sentinel.

`REDIS_URL` is written as operators write it:

    redis://[user:password@]host:6379/0           plain TCP
    rediss://[user:password@]host:6380/0          TLS (CA, client cert and key: `REDIS_TLS_*`)
    unix:///run/redis.sock?db=0                   a local socket
    redis+sentinel://[user:password@]h1:26379,h2:26379/mymaster/0     Sentinel (rediss+sentinel: TLS)

or `REDIS_SENTINELS=h1:26379,h2:26379` with `REDIS_SENTINEL_MASTER`, the URL then giving the
database, the user and TLS. Everything parses into one `RedisConfig`; `connect` (asyncio),
`connect_sync` and the queue's arq settings are all built from it, so every Redis user in the
project connects the same way. The password is a `SecretStr`: no repr, log line or error shows it.

Bounded timeouts, so an outage fails fast and never hangs; a short retry with backoff on connection
errors, which is what carries a client across a Sentinel failover (the pool asks the sentinels for
the new primary on reconnect) without a restart.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

import redis as sync_redis
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError
from redis.retry import Retry as SyncRetry
from redis.sentinel import Sentinel as SyncSentinel

DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379
# Connection errors (refused, reset, "the previous master is now a replica") are retried with
# backoff (0.05, 0.1, 0.2, 0.4, 0.8, then 1 s apart). Interactive callers (requests, the CLI) retry
# for about a third of a second, then fail and fall back (the gateway spools). The worker retries for
# about ten seconds: long enough to ride out a Sentinel promotion with a short
# `down-after-milliseconds`; its own outage handling takes over beyond that. Timeouts are not
# retried: a Redis that does not answer costs one timeout, not ten.
QUICK_RETRIES = 3
FAILOVER_RETRIES = 13
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0

R = TypeVar("R", bound=Redis)


class RedisUrlError(ValueError):
    """REDIS_URL (or REDIS_SENTINELS) cannot be understood; the message never quotes the URL."""


@dataclass(frozen=True)
class RedisTLS:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    check_hostname: bool = True


@dataclass(frozen=True)
class RedisConfig:
    """Where Redis is and how to log in: parsed once, printed only without its password."""

    hosts: tuple[tuple[str, int], ...] = (("localhost", DEFAULT_PORT),)  # sentinels, with a master
    db: int = 0
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    tls: RedisTLS | None = None
    sentinel_master: str | None = None
    sentinel_password: SecretStr | None = field(default=None, repr=False)
    unix_socket_path: str | None = None

    def describe(self) -> str:
        """The URL with the password masked: for logs, `check-config` and the dashboard."""
        user = self.username or ""
        auth = f"{user}:***@" if self.password is not None else (f"{user}@" if user else "")
        if self.unix_socket_path:
            return f"unix://{auth}{self.unix_socket_path}?db={self.db}"
        hosts = ",".join(f"{host}:{port}" for host, port in self.hosts)
        scheme = "rediss" if self.tls else "redis"
        if self.sentinel_master:
            return f"{scheme}+sentinel://{auth}{hosts}/{self.sentinel_master}/{self.db}"
        return f"{scheme}://{auth}{hosts}/{self.db}"

    def __repr__(self) -> str:
        return f"RedisConfig({self.describe()!r})"

    def secret_values(self) -> list[str]:
        return [s.get_secret_value() for s in (self.password, self.sentinel_password) if s is not None]


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    if text.startswith("["):  # [::1]:6379
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise RedisUrlError("a host is missing")
    if port_text and not port_text.isdigit():
        raise RedisUrlError("a port is not a number")
    return host, int(port_text) if port_text else default_port


def parse_hosts(text: str, default_port: int = DEFAULT_SENTINEL_PORT) -> tuple[tuple[str, int], ...]:
    """`h1:26379,h2:26379` (as in REDIS_SENTINELS) into host and port pairs."""
    hosts = tuple(_host_port(part.strip(), default_port) for part in text.split(",") if part.strip())
    if not hosts:
        raise RedisUrlError("no host given")
    return hosts


def _db(text: str) -> int:
    if not text:
        return 0
    if not text.isdigit():
        raise RedisUrlError("the database must be a number")
    return int(text)


def parse_redis_url(
    url: str,
    *,
    sentinels: str | None = None,
    sentinel_master: str | None = None,
    sentinel_password: SecretStr | None = None,
    tls: RedisTLS | None = None,
) -> RedisConfig:
    """Parse REDIS_URL (and, when set, REDIS_SENTINELS and REDIS_SENTINEL_MASTER)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel"):
        raise RedisUrlError(
            "must be a redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel:// URL"
        )
    rest, _, query_text = rest.partition("?")
    query = parse_qs(query_text)
    netloc, _, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username: str | None = None
    password: SecretStr | None = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        username = unquote(user_text) or None
        password = SecretStr(unquote(password_text)) if colon else None
        if not colon and username is not None:  # redis://secret@host: a password alone
            password = SecretStr(username)
            username = None
    secure = scheme.startswith("rediss")
    common: dict[str, Any] = {
        "username": username, "password": password,
        "tls": (tls or RedisTLS()) if secure else None,
        "sentinel_password": sentinel_password,
    }
    db_query = query.get("db", [""])[0]
    if scheme == "unix":
        return RedisConfig(unix_socket_path="/" + path, db=_db(db_query), **common)
    if scheme.endswith("+sentinel"):
        master, _, db_text = path.partition("/")
        return RedisConfig(
            hosts=parse_hosts(hostlist), sentinel_master=unquote(master) or sentinel_master or "mymaster",
            db=_db(db_query or db_text.strip("/")), **common,
        )
    db = _db(db_query or path.strip("/"))
    if sentinels:  # REDIS_SENTINELS: the URL gives the login, the database and TLS only
        return RedisConfig(
            hosts=parse_hosts(sentinels), sentinel_master=sentinel_master or "mymaster", db=db, **common
        )
    return RedisConfig(hosts=(_host_port(hostlist or "localhost", DEFAULT_PORT),), db=db, **common)


def _options(config: RedisConfig, timeout_s: float) -> dict[str, Any]:
    options: dict[str, Any] = {
        "db": config.db,
        "username": config.username,
        "password": config.password.get_secret_value() if config.password else None,
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        # No health_check_interval: a connection found dead is retried on a fresh one anyway, and
        # redis-py 5 loops forever when a health check meets a refused login under a Retry.
    }
    if config.tls is not None:
        options |= {
            "ssl": True, "ssl_cert_reqs": "required", "ssl_ca_certs": config.tls.ca_file,
            "ssl_certfile": config.tls.cert_file, "ssl_keyfile": config.tls.key_file,
            "ssl_check_hostname": config.tls.check_hostname,
        }
    return options


def _sentinel_options(config: RedisConfig, options: dict[str, Any]) -> dict[str, Any]:
    """Sentinels are reached like the data nodes (same TLS), with their own password if any."""
    kept = {k: v for k, v in options.items() if k.startswith(("socket_", "ssl"))}
    if config.sentinel_password is not None:
        kept["password"] = config.sentinel_password.get_secret_value()
    return kept


@functools.cache
def _closing_sentinels(redis_class: type[R]) -> type[R]:
    """`redis_class` whose `aclose` closes its connections to the sentinels too (redis-py leaves
    them open)."""

    class ClosingSentinels(redis_class):  # type: ignore[valid-type,misc]
        sentinel_clients: list[Redis]

        async def aclose(self, close_connection_pool: bool | None = None) -> None:
            await super().aclose(close_connection_pool)
            for sentinel in getattr(self, "sentinel_clients", []):
                await sentinel.aclose()

    ClosingSentinels.__name__ = f"Sentinel{redis_class.__name__}"
    return ClosingSentinels


def connect(target: RedisConfig | str, timeout_s: float = 2.0, retries: int = QUICK_RETRIES) -> Redis:
    """An asyncio client (a pool); through Sentinel, one that follows the primary."""
    return connect_as(Redis, target, timeout_s, retries)


def connect_as(
    redis_class: type[R], target: RedisConfig | str, timeout_s: float = 2.0, retries: int = QUICK_RETRIES
) -> R:
    """`connect` for a subclass of the asyncio client (arq's `ArqRedis`, for the worker)."""
    config = target if isinstance(target, RedisConfig) else parse_redis_url(target)
    options = _options(config, timeout_s) | {
        "retry": Retry(ExponentialBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S), retries),
        "retry_on_error": [ConnectionError],
    }
    if config.sentinel_master:
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(config.hosts), sentinel_kwargs=_sentinel_options(config, options), **options
        )
        client: R = sentinel.master_for(config.sentinel_master, redis_class=_closing_sentinels(redis_class))
        client.sentinel_clients = list(sentinel.sentinels)  # type: ignore[attr-defined]
        return client
    if config.unix_socket_path:
        options = {k: v for k, v in options.items() if not k.startswith("ssl")}
        return redis_class(unix_socket_path=config.unix_socket_path, **options)
    host, port = config.hosts[0]
    return redis_class(host=host, port=port, **options)


class _SyncSentinelClient(sync_redis.Redis):
    """Closing it closes its connections to the sentinels too (redis-py leaves them open)."""

    sentinel_clients: list[sync_redis.Redis]

    def close(self) -> None:
        super().close()
        for sentinel in getattr(self, "sentinel_clients", []):
            sentinel.close()


def connect_sync(target: RedisConfig | str, timeout_s: float = 2.0) -> sync_redis.Redis:
    """The same connection for synchronous callers (the CLI, the demo, scripts)."""
    config = target if isinstance(target, RedisConfig) else parse_redis_url(target)
    options = _options(config, timeout_s) | {
        "retry": SyncRetry(ExponentialBackoff(cap=BACKOFF_CAP_S, base=BACKOFF_BASE_S), QUICK_RETRIES),
        "retry_on_error": [ConnectionError],
    }
    if config.sentinel_master:
        sentinel = SyncSentinel(  # type: ignore[no-untyped-call]
            list(config.hosts), sentinel_kwargs=_sentinel_options(config, options), **options
        )
        client: _SyncSentinelClient = sentinel.master_for(  # type: ignore[no-untyped-call]
            config.sentinel_master, redis_class=_SyncSentinelClient
        )
        client.sentinel_clients = list(sentinel.sentinels)
        return client
    if config.unix_socket_path:
        options = {k: v for k, v in options.items() if not k.startswith("ssl")}
        return sync_redis.Redis(unix_socket_path=config.unix_socket_path, **options)
    host, port = config.hosts[0]
    return sync_redis.Redis(host=host, port=port, **options)
