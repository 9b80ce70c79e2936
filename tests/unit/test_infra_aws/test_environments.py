"""Both environments synthesize; the task environment matches the services' settings."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="AWS CDK not installed (see infra/aws/README.md)")

from tests.unit.test_infra_aws.conftest import (
    INFRA,
    REPO,
    Synthesized,
    resources,
)

PENDING_FIELDS = {
    # Settings the AWS deployment needs and the services do not read yet (see the README,
    # "What the services still need"). pydantic-settings ignores unknown variables.
    "scorer": {"SCORER_BACKEND", "FRAUD_DETECTOR_NAME", "FRAUD_DETECTOR_EVENT_NAME",
               "FRAUD_DETECTOR_ENTITY_TYPE", "SAGEMAKER_ENDPOINT_NAME"},
    "indexer": {"OPENSEARCH_AUTH"},
}
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "PRIVATE")


def settings_fields(path: Path) -> set[str]:
    """Upper-cased field names of every ``*Settings`` class in ``path`` (env var names)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.endswith("Settings"):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id.upper())
    return names


def test_both_environments_synthesize(synthesized: Synthesized) -> None:
    assert set(synthesized.templates) == {"dev", "prod"}
    for template in synthesized.templates.values():
        assert len(template["Resources"]) > 100
        assert "YourEmail" in template["Parameters"]


def test_prod_is_bigger_and_keeps_data(synthesized: Synthesized) -> None:
    dev, prod = synthesized.templates["dev"], synthesized.templates["prod"]
    brokers = {name: next(iter(resources(t, "AWS::MSK::Cluster").values()))
               for name, t in (("dev", dev), ("prod", prod))}
    assert brokers["prod"]["Properties"]["NumberOfBrokerNodes"] > \
        brokers["dev"]["Properties"]["NumberOfBrokerNodes"]
    assert brokers["prod"]["DeletionPolicy"] == "Retain"
    assert brokers["dev"]["DeletionPolicy"] == "Delete"
    assert not resources(prod, "AWS::EC2::Instance"), "no bastion in prod"


def test_container_environment_is_made_of_settings_fields(template: dict[str, Any]) -> None:
    common = settings_fields(REPO / "shared" / "fraudstream_shared" / "config.py")
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        svc = container["Name"]
        own = settings_fields(REPO / "services" / svc / svc / "settings.py")
        names = {e["Name"] for e in container["Environment"]}
        unknown = names - common - own - PENDING_FIELDS.get(svc, set())
        assert not unknown, f"{svc}: not settings fields: {sorted(unknown)}"
        assert not [n for n in names if any(w in n for w in SECRET_WORDS)], svc


def test_invalid_configuration_is_refused() -> None:
    if str(INFRA) not in sys.path:
        sys.path.insert(0, str(INFRA))
    from fraudstream_aws.config import resolve

    with pytest.raises(ValueError, match="scorer_backend"):
        resolve("dev", {"fraudstream:dev:scorer_backend": "magic"})
    with pytest.raises(ValueError, match="kafka_brokers"):
        resolve("dev", {"fraudstream:dev:kafka_brokers": "3"})
    assert resolve("prod", {"fraudstream:prod:image_tag": "abc123"}).image_tag == "abc123"
