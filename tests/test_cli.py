"""The `sentry-responder` commands, run as a user would (typer's runner, a real gateway)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as sync_redis
import uvicorn
from typer.testing import CliRunner

from cli.main import app
from devtools.embedded_redis import EmbeddedRedis
from devtools.processes import free_port
from gateway.app import create_app
from shared.settings import load_settings
from tests.helpers import PATIENT_ENQUEUE, SECRET
from tests.processes import wait_http

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"SENTRY_CLIENT_SECRET": SECRET, "REDIS_URL": redis_server.url}
    # The session's Redis holds earlier tests' jobs: start empty, or a delivery folds into one of them.
    sync_redis.Redis.from_url(redis_server.url).flushdb()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def gateway_url(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    # these tests are about the commands, not the spool
    settings = load_settings(RESPONDER_SPOOL_DIR=str(tmp_path), **PATIENT_ENQUEUE)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz")
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_check_config_reports_the_mode(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "no Sentry token" in result.output and "dry run:       yes" in result.output


def test_check_config_fails_on_a_bad_rules_file(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("mode: sometimes\n")
    monkeypatch.setenv("RESPONDER_RULES", str(bad))
    result = runner.invoke(app, ["check-config"])
    assert result.exit_code == 2
    assert "rules.yaml:1: mode" in result.output


def test_check_config_loads_the_rules_dir_as_the_worker_does(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "acme.yaml").write_text((ROOT / "rules.example.yaml").read_text())
    monkeypatch.setenv("RESPONDER_RULES_DIR", str(tmp_path))
    result = runner.invoke(app, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "for acme:" in result.output and "6 playbooks" in result.output
    (tmp_path / "broken.yaml").write_text("mode: sometimes\n")
    result = runner.invoke(app, ["check-config"])
    assert result.exit_code == 2
    assert "broken.yaml:1: mode" in result.output


def test_check_config_accepts_the_example_rules(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESPONDER_RULES", str(ROOT / "rules.example.yaml"))
    result = runner.invoke(app, ["check-config"])
    assert result.exit_code == 0 and "6 playbooks" in result.output


def test_a_bad_setting_is_one_line_and_exit_2(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "nope")
    result = runner.invoke(app, ["jobs"])
    assert result.exit_code == 2 and "REDIS_URL:" in result.output


def test_send_test_then_jobs_then_replay(gateway_url: str, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["send-test", "--url", gateway_url, "--resource", "error.created"])
    assert result.exit_code == 0, result.output
    assert '"status":"queued"' in result.output
    listing = runner.invoke(app, ["jobs", "--limit", "5"])
    assert "error.created" in listing.output and "queued" in listing.output
    again = runner.invoke(app, ["send-test", "--url", gateway_url, "--resource", "issue.created"])
    twice = runner.invoke(app, ["send-test", "--url", gateway_url, "--resource", "issue.created"])
    assert again.exit_code == twice.exit_code == 0, again.output + twice.output
    assert "duplicate" not in twice.output  # each sample is a new delivery, not a replay
    nothing = runner.invoke(app, ["replay", "--all-dead"])
    assert nothing.exit_code == 0 and "replayed 0" in nothing.output
    assert runner.invoke(app, ["replay"]).exit_code == 2


def test_replay_of_an_unknown_or_live_job_says_so_and_fails(gateway_url: str, env: dict[str, str]) -> None:
    unknown = runner.invoke(app, ["replay", "no-such-delivery"])
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "no such dead-lettered job: no-such-delivery"
    sent = runner.invoke(app, ["send-test", "--url", gateway_url, "--resource", "issue.created"])
    assert sent.exit_code == 0, sent.output
    queued_id = sync_redis.Redis.from_url(env["REDIS_URL"]).zrange("responder:queue", 0, 0)[0].decode()
    live = runner.invoke(app, ["replay", queued_id])
    assert live.exit_code == 1
    assert f"no such dead-lettered job: {queued_id} (it is queued;" in live.output
    assert "replayed" not in live.output
