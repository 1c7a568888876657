"""compose/compose.yaml and compose/Dockerfile, checked without a Docker engine.

What can go wrong without anyone noticing until a user runs `docker compose up`: a mounted file that was
moved, a variable name the settings don't read (silently ignored), a scrape target that names no service,
an image that runs as root.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from consumers.settings import Settings, load_settings
from receiver.settings import ReceiverSettings
from receiver.settings import load_settings as load_receiver_settings
from receiver.sources import load_sources, public_url_env_name, secret_env_name
from receiver.verify.providers import BUILT_IN_PROVIDERS
from tests.repository import COMPOSE
from tests.unit.compose.files import load_yaml

SERVICES = {"kafka", "redis", "receiver", "consumers-agents", "consumers-audit", "prometheus", "grafana"}
CONSUMERS = ("consumers-agents", "consumers-audit")
# In a container the processes must listen beyond loopback, or no other container reaches them.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
# `${NAME:-default}` interpolation: what compose uses when NAME is not set.
_INTERPOLATION = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _aliases(model: type[ReceiverSettings] | type[Settings]) -> set[str]:
    return {str(field.validation_alias) for field in model.model_fields.values()}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment must be a mapping (NAME: value)"
    return {str(name): _INTERPOLATION.sub(lambda m: m.group(2), str(value)) for name, value in env.items()}


def _built_from_our_dockerfile(service: dict[str, Any]) -> bool:
    return "build" in service


def test_every_service_of_the_stack_is_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("image"), f"{name}: no image"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    assert services["receiver"]["command"] == ["python", "-m", "receiver"]
    for name in CONSUMERS:
        assert services[name]["command"] == ["python", "-m", "consumers"]
    groups = {services[name]["environment"]["CONSUMER_GROUP"] for name in CONSUMERS}
    assert len(groups) == 2, "the two consumer services must be two groups"


def test_our_services_build_one_image_from_compose_dockerfile(compose: dict[str, Any]) -> None:
    built = {name: s for name, s in compose["services"].items() if _built_from_our_dockerfile(s)}
    assert set(built) == {"receiver", *CONSUMERS}
    for name, service in built.items():
        context = (COMPOSE / service["build"]["context"]).resolve()
        assert context == COMPOSE.parent, f"{name}: the build context must be the repository root"
        assert (context / service["build"]["dockerfile"]).is_file(), name
    assert len({service["image"] for service in built.values()}) == 1


def test_every_mounted_file_exists_and_every_named_volume_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    mounts = 0
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (COMPOSE / source).exists(), f"{name} mounts {source}, which is not in the repository"
                mounts += 1
            else:
                assert source in declared, f"{name} uses volume {source!r}, not declared under volumes:"
    assert mounts >= 4  # prometheus.yml, alerts.yml, the datasource, the dashboard provider and dashboards


def test_the_receiver_reads_every_variable_it_is_given(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _environment(compose["services"]["receiver"])
    known = _aliases(ReceiverSettings)
    known |= {secret_env_name(provider) for provider in BUILT_IN_PROVIDERS}
    known |= {public_url_env_name(provider) for provider in BUILT_IN_PROVIDERS}
    assert sorted(set(env) - known) == []
    # And the values are valid: the settings load and the sources with a secret are enabled.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_receiver_settings()
    assert (settings.host, settings.port) == (ALL_INTERFACES, 8000)
    sources = load_sources(env, sources_file=None, tolerance_s=settings.tolerance_s)
    assert {"hmac", "github", "stripe"} <= set(sources)


@pytest.mark.parametrize("name", CONSUMERS)
def test_each_consumer_reads_every_variable_it_is_given(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    env = _environment(compose["services"][name])
    assert sorted(set(env) - _aliases(Settings)) == []
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    settings = load_settings()
    # Reachable from Prometheus in another container, not only on the container's loopback.
    assert (settings.consumer_metrics_host, settings.consumer_metrics_port) == (ALL_INTERFACES, 9400)
    assert settings.redis_url.get_secret_value().startswith("redis://redis:")


def test_the_services_reach_kafka_by_its_internal_listener(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    internal = [url for url in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",") if url.startswith("INTERNAL://")]
    [address] = [url.removeprefix("INTERNAL://") for url in internal]
    for name in ("receiver", *CONSUMERS):
        assert compose["services"][name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == address, name


def test_prometheus_scrapes_the_receiver_and_every_consumer_service(compose: dict[str, Any]) -> None:
    config = load_yaml(COMPOSE / "prometheus" / "prometheus.yml")
    targets = {
        target for job in config["scrape_configs"] for static in job["static_configs"] for target in static["targets"]
    }
    assert targets == {"receiver:8000", *(f"{name}:9400" for name in CONSUMERS)}
    assert set(config["rule_files"]) == {"alerts.yml"}
    mounts = {volume.split(":")[1] for volume in compose["services"]["prometheus"]["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/alerts.yml"} <= mounts


def test_grafana_provisions_the_datasource_the_dashboard_uses(
    compose: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    [datasource] = load_yaml(COMPOSE / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"] if panel["type"] != "row"}
    assert uids == {datasource["uid"]}
    [provider] = load_yaml(COMPOSE / "grafana" / "provisioning" / "dashboards" / "webhooks.yml")["providers"]
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    lines = [line.strip() for line in (COMPOSE / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in instructions if line.upper().startswith("USER ")]
    assert users, "no USER instruction: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric user lets an orchestrator check runAsNonRoot"
    assert any(line.startswith("RUN pip install -c constraints.txt") for line in instructions), "install the pins"
    assert instructions[-1] == 'CMD ["python", "-m", "receiver"]'


def test_the_build_context_leaves_out_the_virtualenv_and_caches() -> None:
    ignore = [line for line in (COMPOSE / "Dockerfile.dockerignore").read_text().splitlines() if line[:1] not in "#"]
    assert ignore[0] == "*", "ignore everything, then allow what the image needs"
    for path in ("pyproject.toml", "constraints.txt", "schemas/", "receiver/", "consumers/"):
        assert f"!{path}" in ignore
        assert (COMPOSE.parent / path).exists()


def test_the_image_holds_every_package_the_project_installs() -> None:
    # A package left out of the build context or the COPY lines installs fine and fails at the first import.
    pyproject = tomllib.loads((COMPOSE.parent / "pyproject.toml").read_text())
    packages = [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    ignore = (COMPOSE / "Dockerfile.dockerignore").read_text().splitlines()
    copied = (COMPOSE / "Dockerfile").read_text().splitlines()
    for package in packages:
        assert f"!{package}/" in ignore, package
        assert f"COPY {package}/ {package}/" in copied, package


def test_redis_keeps_done_marks_across_a_restart(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
