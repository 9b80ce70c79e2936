"""Both environments synthesize; the task environment matches the services' settings."""

from __future__ import annotations

import ast
import json
import os
import subprocess
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

SERVICES = ("producer", "scorer", "notifier", "indexer", "archiver", "compliance")

SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "PRIVATE")
SETTINGS_MODULES = {svc: f"{svc}.settings" for svc in SERVICES}
PROJECT_PYTHON = REPO / ".venv" / "bin" / "python"
"""The service workspace's interpreter (``uv sync``); the CDK venv lacks pydantic-settings."""

# What CloudFormation fills in at deploy time, as the services would see it.
DEPLOY_TIME_VALUES = {
    "AWS_REGION": "eu-west-1",
    "KAFKA_BOOTSTRAP_SERVERS": "b-1.msk.example:9098,b-2.msk.example:9098",
    "OPENSEARCH_URL": "https://vpc-fraudstream-dev-abc.eu-west-1.es.amazonaws.com",
    "SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:fraudstream-alerts",
    "ARCHIVER_S3_BUCKET": "fraudstream-dev-datalake-abc",
    "COMPLIANCE_S3_BUCKET": "fraudstream-dev-compliance-abc",
    "COMPLIANCE_KMS_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/abc",
    "COMPLIANCE_SQS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/uploads",
}


def module_path(module: str) -> Path:
    """The source file of a workspace module (``scorer.backends.settings``)."""
    top, *rest = module.split(".")
    root = REPO / "shared" if top == "fraudstream_shared" else REPO / "services" / top
    return root.joinpath(top, *rest).with_suffix(".py")


def _classes(module: str) -> tuple[dict[str, ast.ClassDef], dict[str, str]]:
    """The module's classes by name, and where each imported name comes from."""
    tree = ast.parse(module_path(module).read_text())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    imported = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                imported[alias.asname or alias.name] = node.module
    return classes, imported


def _is_field(item: ast.stmt) -> str | None:
    """The field name of an annotated class attribute (not ClassVar, private or model_config)."""
    if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
        return None
    name = item.target.id
    if name.startswith("_") or name == "model_config" or "ClassVar" in ast.unparse(item.annotation):
        return None
    return name


def class_fields(module: str, name: str) -> set[str]:
    """Field names of class ``name`` in ``module``, inherited ones included.

    Bases are followed through ``from x import Y`` into the workspace's own
    modules; bases from elsewhere (pydantic's ``BaseSettings``, ``BaseModel``)
    contribute no fields.
    """
    classes, imported = _classes(module)
    node = classes[name]
    fields = {f for item in node.body if (f := _is_field(item))}
    for base in node.bases:
        base_name = ast.unparse(base)
        if base_name in classes:
            fields |= class_fields(module, base_name)
        elif imported.get(base_name, "").split(".")[0] in {"fraudstream_shared", *SERVICES}:
            fields |= class_fields(imported[base_name], base_name)
    return fields


def settings_env_names(svc: str) -> set[str]:
    """Environment names of ``svc``'s settings class (its ``*Settings`` subclass)."""
    module = SETTINGS_MODULES[svc]
    classes, _ = _classes(module)
    (name,) = [n for n in classes if n.endswith("Settings")]
    return {f.upper() for f in class_fields(module, name)}


def container_environments(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each container's environment, by service name."""
    out = {}
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        out[container["Name"]] = {e["Name"]: e["Value"] for e in container["Environment"]}
    return out


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


def test_every_variable_of_every_task_is_a_settings_field(template: dict[str, Any]) -> None:
    environments = container_environments(template)
    assert set(environments) == set(SERVICES)
    for svc, env in environments.items():
        unknown = set(env) - settings_env_names(svc)
        assert not unknown, f"{svc}: not settings fields: {sorted(unknown)}"
        assert not [n for n in env if any(w in n for w in SECRET_WORDS)], svc


def test_settings_field_parser_sees_inherited_fields() -> None:
    scorer = settings_env_names("scorer")
    # ServiceSettings (shared), BackendSettings (a second base) and the class's own fields.
    assert {"KAFKA_SASL_MECHANISM", "AWS_REGION", "FRAUDDETECTOR_DETECTOR_ID",
            "SAGEMAKER_ENDPOINT_NAME", "SCORER_MAX_BATCH"} <= scorer
    assert "MODEL_CONFIG" not in scorer


def test_every_task_talks_to_msk_with_iam_in_its_region(template: dict[str, Any]) -> None:
    for svc, env in container_environments(template).items():
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", svc
        assert env["KAFKA_SASL_MECHANISM"] == "OAUTHBEARER", svc
        assert env["AWS_REGION"] == {"Ref": "AWS::Region"}, svc
    environments = container_environments(template)
    assert environments["indexer"]["OPENSEARCH_AUTH"] == "sigv4"
    assert environments["indexer"]["OPENSEARCH_URL"]["Fn::Join"][1][0] == "https://"
    assert environments["notifier"]["NOTIFIER_CHANNEL"] == "sns"
    assert "Ref" in environments["notifier"]["SNS_TOPIC_ARN"]
    assert environments["scorer"]["SCORER_BACKEND"] == "embedded"


def test_scorer_gets_the_selected_backends_settings(backends: dict[str, Synthesized]) -> None:
    fd, sm = (container_environments(backends[b].templates["dev"])["scorer"]
              for b in ("frauddetector", "sagemaker"))
    assert fd["SCORER_BACKEND"] == "frauddetector"
    assert fd["FRAUDDETECTOR_DETECTOR_ID"] == "my_detector"
    assert fd["FRAUDDETECTOR_EVENT_TYPE"] == "transaction_event"
    assert fd["FRAUDDETECTOR_ENTITY_TYPE"] == "customer"
    assert "SAGEMAKER_ENDPOINT_NAME" not in fd
    assert sm["SCORER_BACKEND"] == "sagemaker"
    assert sm["SAGEMAKER_ENDPOINT_NAME"] == "my-endpoint"
    assert not [n for n in sm if n.startswith("FRAUDDETECTOR_")]
    for env in (fd, sm):
        assert set(env) <= settings_env_names("scorer")


VALIDATE = """
import importlib, json, sys
from fraudstream_shared.config import load_settings
from fraudstream_shared.exceptions import ConfigError
svc = sys.argv[1]
module = importlib.import_module(svc + ".settings")
(cls,) = [c for n, c in vars(module).items()
          if n.endswith("Settings") and isinstance(c, type) and c.__module__ == module.__name__]
try:
    load_settings(cls)
    problem = None
except ConfigError as exc:
    problem = str(exc)
print(json.dumps({"fields": sorted(f.upper() for f in cls.model_fields), "problem": problem}))
"""


def concrete(env: dict[str, Any]) -> dict[str, str]:
    """The environment with deploy-time tokens replaced by what CloudFormation would put there."""
    return {name: value if isinstance(value, str) else DEPLOY_TIME_VALUES[name]
            for name, value in env.items()}


@pytest.mark.skipif(not PROJECT_PYTHON.exists(), reason="service workspace not synced (uv sync)")
def test_the_services_own_settings_accept_each_task_environment(
        synthesized: Synthesized, tmp_path: Path) -> None:
    """Cross-check with the real settings classes (the workspace's interpreter, no AWS call)."""
    for svc, env in container_environments(synthesized.templates["dev"]).items():
        result = subprocess.run(
            [str(PROJECT_PYTHON), "-c", VALIDATE, svc], cwd=tmp_path,  # no stray .env file
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **concrete(env)},
            capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout.splitlines()[-1])
        assert report["problem"] is None, f"{svc}: {report['problem']}"
        assert set(report["fields"]) == settings_env_names(svc), svc


def test_invalid_configuration_is_refused() -> None:
    if str(INFRA) not in sys.path:
        sys.path.insert(0, str(INFRA))
    from fraudstream_aws.config import resolve

    with pytest.raises(ValueError, match="scorer_backend"):
        resolve("dev", {"fraudstream:dev:scorer_backend": "magic"})
    with pytest.raises(ValueError, match="kafka_brokers"):
        resolve("dev", {"fraudstream:dev:kafka_brokers": "3"})
    assert resolve("prod", {"fraudstream:prod:image_tag": "abc123"}).image_tag == "abc123"
