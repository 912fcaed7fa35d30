"""No Docker engine runs here, so the deployment files are checked by reading them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


# --- Kubernetes (deploy/kubernetes/): read, as no cluster runs here

KUBE = ROOT / "deploy" / "kubernetes"


def kube_objects() -> dict[str, dict[str, Any]]:
    """Every object in the manifests, by `Kind/name`."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "metadata" in doc:
                found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def container(objects: dict[str, dict[str, Any]], deployment: str) -> dict[str, Any]:
    spec = objects[f"Deployment/{deployment}"]["spec"]["template"]["spec"]
    only: dict[str, Any] = spec["containers"][0]
    return only


def container_env(objects: dict[str, dict[str, Any]], deployment: str) -> dict[str, str]:
    """What the container's environment holds: its Secret and ConfigMap, then its own `env`."""
    env: dict[str, str] = {}
    spec = container(objects, deployment)
    for source in spec.get("envFrom", []):
        if "secretRef" in source:
            env |= objects[f"Secret/{source['secretRef']['name']}"]["stringData"]
        if "configMapRef" in source:
            env |= objects[f"ConfigMap/{source['configMapRef']['name']}"]["data"]
    env |= {item["name"]: item["value"] for item in spec.get("env", [])}
    return env


def test_kubernetes_env_names_are_real_settings() -> None:
    from shared.settings import Settings

    aliases = {f.validation_alias.choices[0] for f in Settings.model_fields.values()}  # type: ignore[union-attr]
    objects = kube_objects()
    for deployment in ("sentry-responder-gateway", "sentry-responder-worker"):
        unknown = set(container_env(objects, deployment)) - aliases
        assert not unknown, f"{deployment} sets what no setting reads: {unknown}"
    for path in KUBE.glob("*.yaml"):  # commented-out examples name real settings too
        for line in path.read_text().splitlines():
            name = line.strip().lstrip("# ").split(":", 1)[0]
            if line.strip().startswith("#") and name.isupper() and "_" in name and ":" in line:
                assert name in aliases, (path.name, name)


def test_kubernetes_sets_every_required_setting() -> None:
    from shared.settings import load_settings

    objects = kube_objects()
    gateway = load_settings(**container_env(objects, "sentry-responder-gateway"))
    gateway.require_gateway()
    worker = load_settings(**container_env(objects, "sentry-responder-worker"))
    worker.require_sentry()
    assert worker.mode == "internal" and gateway.redis.sentinel_master == "mymaster"
    # the spool is a directory of the gateway's own (0700) inside the mounted volume
    assert gateway.spool_dir == Path("/var/spool/responder/gateway")
    mounts = {m["mountPath"] for m in container(objects, "sentry-responder-gateway")["volumeMounts"]}
    assert str(gateway.spool_dir.parent) in mounts


def test_kubernetes_probes_service_and_scaling() -> None:
    from gateway.app import create_app
    from gateway.metrics import GatewayMetrics
    from shared.settings import load_settings

    objects = kube_objects()
    gateway = container(objects, "sentry-responder-gateway")
    paths = {r.path for r in create_app(load_settings(SENTRY_CLIENT_SECRET="x")).routes}  # type: ignore[attr-defined]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz" and "/readyz" in paths
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz" and "/healthz" in paths
    port = gateway["args"][gateway["args"].index("--port") + 1]
    assert gateway["ports"][0]["containerPort"] == int(port)
    service = objects["Service/sentry-responder-gateway"]["spec"]
    assert service["selector"] == objects["Deployment/sentry-responder-gateway"]["spec"]["selector"]["matchLabels"]
    assert service["ports"][0]["targetPort"] == gateway["ports"][0]["name"]
    hpa = objects["HorizontalPodAutoscaler/sentry-responder-gateway"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "sentry-responder-gateway"
    scaled = objects["ScaledObject/sentry-responder-worker"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == "sentry-responder-worker"
    exported = {m.name for m in GatewayMetrics().registry.collect()}
    assert "responder_queue_depth" in exported
    assert "responder_queue_depth" in scaled["triggers"][0]["metadata"]["query"]
    assert container(objects, "sentry-responder-worker")["args"] == ["worker"]
    listed = set(yaml.safe_load((KUBE / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
