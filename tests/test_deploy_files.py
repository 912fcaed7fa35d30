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
    # the dependency layer comes first, from the hashed lock; the project goes on top without deps
    assert "COPY requirements.lock" in deps and "pip install --require-hashes -r requirements.lock" in deps
    assert "pip install --no-deps ." in rest
    assert 'ENTRYPOINT ["sentry-responder"]' in rest


def test_env_example_names_real_settings() -> None:
    from shared.settings import Settings

    aliases = {f.validation_alias.choices[0] for f in Settings.model_fields.values()}  # type: ignore[union-attr]
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.lstrip("# ").split("=", 1)[0]
        if "=" in line and name.isupper():
            assert name in aliases, name


def test_dependencies_are_locked_with_hashes_above_the_advisory_floors() -> None:
    """Finding 11: floors at the fixed versions, a lock with hashes that the installs use."""
    import re

    from packaging.version import Version

    pyproject = (ROOT / "pyproject.toml").read_text()
    floors = {"starlette": "0.49.1", "jinja2": "3.1.6", "cryptography": "44.0.1"}
    for name, floor in floors.items():
        assert f'"{name}>={floor}"' in pyproject, name
    for lock in ("requirements.lock", "requirements-test.lock"):
        text = (ROOT / lock).read_text()
        pins = dict(re.findall(r"^([a-z0-9_.-]+)==([^ ]+) \\$", text, re.MULTILINE))
        assert pins and all(f"{n}=={v} \\\n    --hash=sha256:" in text for n, v in pins.items()), lock
        for name, floor in floors.items():
            assert Version(pins[name]) >= Version(floor), (lock, name)
    # Every dependency named in pyproject.toml is in the locks (else: run scripts/lock.sh).
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads(pyproject)["project"]
    for lock, names in (("requirements.lock", project["dependencies"]),
                        ("requirements-test.lock", project["dependencies"] + project["optional-dependencies"]["test"])):
        text = (ROOT / lock).read_text().lower()
        for requirement in map(Requirement, names):
            name = re.sub(r"[-_.]+", "-", requirement.name.lower())
            assert f"\n{name}==" in text, f"{name} is missing from {lock}: run scripts/lock.sh"
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert "--require-hashes -r" in bootstrap and "--no-deps -e ." in bootstrap
    assert "requirements" in (ROOT / "scripts" / "audit.sh").read_text()
