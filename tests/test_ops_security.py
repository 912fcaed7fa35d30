"""Attacks on the ops routes of a real gateway process (issue 18, findings 1, 2 and 10).

Each test starts the gateway the way a user would (`sentry-responder gateway` or uvicorn) and
tries what an attacker tried: an empty or short token, a proxy in front of a token-less gateway,
the token in a URL, guessing the token, a stale cookie, a cross-site post.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.embedded_redis import EmbeddedRedis
from devtools.processes import free_port
from gateway.ops.auth import issue_session
from tests.helpers import SECRET
from tests.processes import Proc, gateway, wait_http

TOKEN = "ops-security-token-0123456789abcdef-XYZ"
PROXY_HEADERS = [
    {"X-Forwarded-For": "203.0.113.9"},
    {"X-Forwarded-Host": "responder.example.com"},
    {"X-Forwarded-Proto": "https"},
    {"Forwarded": "for=203.0.113.9"},
    {"X-Real-IP": "203.0.113.9"},
    {"Via": "1.1 nginx"},
]


def base_env(redis_server: EmbeddedRedis, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": redis_server.url,
            "RESPONDER_SPOOL_DIR": str(tmp_path / "spool"), "RESPONDER_LOG_LEVEL": "INFO", **extra}


@pytest.fixture
def cli_gateway(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[object]:
    """`sentry-responder gateway --host H --port P` as a user runs it; stopped at the end."""
    started: list[Proc] = []

    def start(host: str, **extra: str) -> tuple[Proc, str]:
        port = free_port()
        proc = Proc(["-m", "cli.main", "gateway", "--host", host, "--port", str(port)],
                    base_env(redis_server, tmp_path, **extra)).start()
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz")
        return proc, url

    yield start
    for proc in started:
        proc.stop()


@pytest.mark.parametrize("token", ["short-token", "x" * 31, "   "])
def test_short_dashboard_token_stops_start_up_naming_the_setting(
    redis_server: EmbeddedRedis, tmp_path: Path, token: str
) -> None:
    env = base_env(redis_server, tmp_path, RESPONDER_DASHBOARD_TOKEN=token)
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("SENTRY_", "RESPONDER_"))}
    done = subprocess.run([sys.executable, "-m", "cli.main", "gateway", "--port", str(free_port())],
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "RESPONDER_DASHBOARD_TOKEN" in done.stderr and "32 characters" in done.stderr
    assert token.strip() == "" or token not in done.stderr


def test_empty_token_in_env_means_unset_and_nothing_is_open_to_other_hosts(cli_gateway: object) -> None:
    """Finding 1: `RESPONDER_DASHBOARD_TOKEN=` (as .env.example once shipped) on 0.0.0.0."""
    proc, url = cli_gateway("0.0.0.0", RESPONDER_DASHBOARD_TOKEN="")  # type: ignore[operator]
    for path in ("/api/jobs", "/api/stats", "/"):
        assert httpx.get(url + path, params={"token": ""}).status_code == 403, path
    assert httpx.post(url + "/api/dead/replay").status_code == 403
    assert httpx.post(url + "/login", data={"token": ""}).status_code in (303, 403)
    assert httpx.get(url + "/api/jobs", cookies={"responder_session": issue_session("", time.time())}).status_code == 403
    assert httpx.get(url + "/healthz").status_code == 200  # the health routes stay open
    warnings = [line for line in proc.log().splitlines() if "ops_routes_off" in line]
    assert len(warnings) == 1, proc.log()


@pytest.mark.parametrize("headers", PROXY_HEADERS)
def test_without_a_token_a_proxied_request_is_refused(
    redis_server: EmbeddedRedis, tmp_path: Path, headers: dict[str, str]
) -> None:
    """Finding 2: nginx on the same host makes every Internet client look like loopback."""
    with gateway(base_env(redis_server, tmp_path)) as (_proc, url):
        assert httpx.get(url + "/api/stats").status_code == 200  # loopback, no proxy: served
        assert httpx.get(url + "/api/jobs", headers=headers).status_code == 403
        assert httpx.post(url + "/api/dead/replay", headers=headers).status_code == 403


CDN_CLIENT_HEADERS = ["CF-Connecting-IP", "True-Client-IP", "X-Client-IP", "Client-IP", "X-Cluster-Client-IP",
                      "Fastly-Client-IP", "X-Original-Forwarded-For", "X-Envoy-External-Address"]


def test_without_a_token_cdn_and_ingress_client_headers_are_proxies_too(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    """A Cloudflare tunnel or an ingress on the same host names the client in headers of its own."""
    with gateway(base_env(redis_server, tmp_path)) as (_proc, url):
        assert httpx.get(url + "/api/stats").status_code == 200
        for name in CDN_CLIENT_HEADERS:
            assert httpx.get(url + "/api/jobs", headers={name: "203.0.113.9"}).status_code == 403, name
            assert httpx.post(url + "/api/dead/replay", headers={name: "203.0.113.9"}).status_code == 403, name


def test_token_login_session_expiry_throttle_and_cross_site(redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    """Finding 10: token in a URL, no expiry, guessing, cross-site posts. The session's use is checked
    with the default (12 h) session, its expiry on a gateway of its own with a short one: a short
    session for both would expire under a busy machine before the checks that need it were done."""
    env = base_env(redis_server, tmp_path, RESPONDER_DASHBOARD_TOKEN=TOKEN)
    with gateway(env) as (proc, url):
        # The token in a URL signs nobody in.
        in_url = httpx.get(url + "/", params={"token": TOKEN})
        assert in_url.status_code == 401 and "set-cookie" not in in_url.headers
        # A cross-site sign-in (login CSRF) is refused, even with the right token.
        forged = httpx.post(url + "/login", data={"token": TOKEN}, headers={"Sec-Fetch-Site": "cross-site"})
        assert forged.status_code == 403
        with httpx.Client(base_url=url) as browser:
            signed_in = browser.post("/login", data={"token": TOKEN}, headers={"Origin": url})
            assert signed_in.status_code == 303 and TOKEN not in signed_in.headers["set-cookie"]
            assert "max-age=43200" in signed_in.headers["set-cookie"].lower()
            assert browser.get("/api/stats").status_code == 200
            # Cross-site posts are refused with a valid session and with the bearer token.
            assert browser.post("/api/dead/replay", headers={"Origin": "https://evil.example"}).status_code == 403
            assert browser.post("/api/dead/replay", headers={"Sec-Fetch-Site": "same-site"}).status_code == 403
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            assert httpx.post(url + "/api/dead/replay", headers={**bearer, "Origin": "https://evil.example"}).status_code == 403
            assert browser.post("/api/dead/replay", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 202
            assert 'action="/logout"' in browser.get("/").text
        # Guessing: five wrong tokens, then even the right one waits.
        for n in range(5):
            assert httpx.post(url + "/login", data={"token": f"guess-{n}"}).status_code == 401
        throttled = httpx.post(url + "/login", data={"token": TOKEN})
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
        assert httpx.get(url + "/api/jobs", headers={"Authorization": "Bearer guess"}).status_code == 429
        assert TOKEN not in proc.log()
    # The session expires: the same cookie, kept by an attacker, stops working.
    with gateway(env | {"RESPONDER_DASHBOARD_SESSION_S": "10"}) as (proc, url):
        signed_in = httpx.post(url + "/login", data={"token": TOKEN}, headers={"Origin": url})
        assert signed_in.status_code == 303 and "max-age=10" in signed_in.headers["set-cookie"].lower()
        cookie = signed_in.cookies["responder_session"]
        assert httpx.get(url + "/api/stats", cookies={"responder_session": cookie}).status_code == 200
        deadline = time.monotonic() + 60
        while httpx.get(url + "/api/stats", cookies={"responder_session": cookie}).status_code == 200:
            assert time.monotonic() < deadline, "the session never expired"
            time.sleep(0.2)
        assert httpx.get(url + "/api/stats", cookies={"responder_session": cookie}).status_code == 401
        assert TOKEN not in proc.log()


def test_shipped_env_example_and_compose_never_yield_an_open_dashboard() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    gateway_env = compose["services"]["gateway"]["environment"]
    assert gateway_env["RESPONDER_DASHBOARD_TOKEN"].startswith("${RESPONDER_DASHBOARD_TOKEN:?")
    lines = (root / ".env.example").read_text().splitlines()
    token_lines = [line for line in lines if line.lstrip("# ").startswith("RESPONDER_DASHBOARD_TOKEN=")]
    assert token_lines and all(line.startswith("#") for line in token_lines)  # never an empty token
