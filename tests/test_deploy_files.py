"""No Docker engine runs here, so the deployment files are checked by reading them."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_services_health_and_volumes() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "gateway", "worker"}
    redis = services["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(v.startswith("redis-data:") for v in redis["volumes"])
    assert set(compose["volumes"]) >= {"redis-data", "spool"}
    for name in ("redis", "gateway", "worker"):
        assert "test" in services[name]["healthcheck"], name
    for name in ("gateway", "worker"):
        assert services[name]["env_file"] == ".env"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "ports" not in services["worker"]  # scalable with --scale worker=N
    assert services["worker"]["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert services["worker"]["command"] == ["worker"]
    assert (ROOT / ".env.example").exists()


def test_dockerfile_is_slim_non_root_cached_and_health_checked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("# ") and "FROM python:3.11-slim" in text
    assert "USER responder" in text and "HEALTHCHECK" in text
    deps, _, rest = text.partition("COPY gateway gateway")
    assert "COPY pyproject.toml" in deps and "pip install ." in deps  # the dependency layer comes first
    assert 'ENTRYPOINT ["sentry-responder"]' in rest


def test_env_example_names_real_settings() -> None:
    from shared.settings import Settings

    aliases = {f.validation_alias.choices[0] for f in Settings.model_fields.values()}  # type: ignore[union-attr]
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.lstrip("# ").split("=", 1)[0]
        if "=" in line and name.isupper():
            assert name in aliases, name
