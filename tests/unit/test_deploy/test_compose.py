"""docker-compose.yml cannot run on a machine without Docker, so check it statically:
pinned images, health checks, healthy-dependency ordering, and that each service's
environment matches the fields of its settings class."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudstream_shared.config import ServiceSettings
from tools import env_example

REPO = Path(__file__).resolve().parents[3]
SETTINGS: dict[str, type[ServiceSettings]] = env_example.SERVICES
"""Every service, with its settings class: the list .env.example is generated from."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def env_names(cls: type[ServiceSettings]) -> set[str]:
    """The environment variable of every field (pydantic-settings upper-cases the name)."""
    return {name.upper() for name in cls.model_fields}


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if service.get("restart") == "no":  # one-shot jobs (e.g. the dashboards import)
            continue
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"
        assert not check.get("disable"), f"{name} disables its health check"
        assert "stop_grace_period" in service, f"{name} has no stop_grace_period"
        assert "mem_limit" in service, f"{name} has no memory limit"


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service.get("image")
        if image is not None:
            assert re.search(r":[\w.-]*\d", image), f"{name} image {image} has no version"
            assert not image.endswith(":latest"), f"{name} image {image} is not pinned"


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"
            assert condition["condition"] == "service_healthy", f"{name} → {dependency}"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_service_environment_matches_its_settings(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["build"]["context"] == ".", "images build from the repository root"
    assert service["build"]["dockerfile"] == f"services/{name}/Dockerfile"
    environment = set(service["environment"])
    known = env_names(SETTINGS[name])
    assert environment <= known, f"{name} gets variables its settings ignore: {environment - known}"
    required = {field.upper() for field, info in SETTINGS[name].model_fields.items()
                if info.is_required()}
    assert required <= environment, f"{name} lacks required variables: {required - environment}"


def test_env_example_is_generated_from_the_settings() -> None:
    assert (REPO / ".env.example").read_text() == env_example.render(), (
        "run `make env-example` and commit .env.example"
    )


def test_env_example_lists_every_variable_compose_uses(compose: dict[str, Any]) -> None:
    listed = set(re.findall(r"^#\s*([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(),
                            flags=re.MULTILINE))
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (REPO / "docker-compose.yml").read_text()))
    assert used <= listed, f".env.example lacks {sorted(used - listed)}"
    for name, cls in SETTINGS.items():
        assert env_names(cls) - {"SERVICE_NAME"} <= listed, name


def test_dockerfiles_copy_only_shared_and_their_own_service() -> None:
    for name in SETTINGS:
        text = (REPO / "services" / name / "Dockerfile").read_text()
        sources = re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE)
        for source in sources:
            assert source in {"pyproject.toml", "uv.lock"} or source.startswith(
                ("shared", f"services/{name}")
            ), f"{name}'s Dockerfile copies {source}"
        assert re.search(r"^USER 10001", text, flags=re.MULTILINE), f"{name} runs as root"
