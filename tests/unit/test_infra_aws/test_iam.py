"""Least privilege: no wildcard action anywhere, exact task-role actions, clean cdk-nag."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="AWS CDK not installed (see infra/aws/README.md)")

from tests.unit.test_infra_aws.conftest import Synthesized, resources

KAFKA_CONNECT = {"kafka-cluster:Connect", "kafka-cluster:DescribeCluster"}
KAFKA_PRODUCE = {"kafka-cluster:WriteDataIdempotently", "kafka-cluster:DescribeTopic",
                 "kafka-cluster:WriteData", "kafka-cluster:CreateTopic"}
KAFKA_CONSUME = {"kafka-cluster:ReadData", "kafka-cluster:DescribeGroup",
                 "kafka-cluster:AlterGroup"}
KAFKA_TRANSACTIONS = {"kafka-cluster:DescribeTransactionalId",
                      "kafka-cluster:AlterTransactionalId"}
LAG_METRIC = {"cloudwatch:PutMetricData"}
EXPECTED_TASK_ACTIONS = {
    "producer": KAFKA_CONNECT | KAFKA_PRODUCE,
    "scorer": KAFKA_CONNECT | KAFKA_PRODUCE | KAFKA_CONSUME | KAFKA_TRANSACTIONS | LAG_METRIC,
    "notifier": KAFKA_CONNECT | KAFKA_PRODUCE | KAFKA_CONSUME | LAG_METRIC
    | {"sns:Publish", "kms:Decrypt", "kms:GenerateDataKey"},
    "indexer": KAFKA_CONNECT | KAFKA_PRODUCE | KAFKA_CONSUME | LAG_METRIC
    | {"es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"},
    "archiver": KAFKA_CONNECT | KAFKA_PRODUCE | KAFKA_CONSUME | LAG_METRIC
    | {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket",
       "kms:GenerateDataKey", "kms:Decrypt"},
    "compliance": KAFKA_CONNECT | KAFKA_PRODUCE
    | {"es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"}
    | {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket",
       "kms:GenerateDataKey", "kms:Decrypt"}
    | {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
       "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
}
VPC_LAMBDA_ENI = {
    "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
}
RESOURCE_STAR_ALLOWED = VPC_LAMBDA_ENI | {
    # Actions without resource-level permissions: AWS requires Resource "*".
    "ecr:GetAuthorizationToken",
    "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def statements(node: Any, kind: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy statement anywhere in a template, with the resource type holding it."""
    if isinstance(node, dict):
        if "Type" in node and "Properties" in node:
            kind = node["Type"]
        for key, value in node.items():
            if key == "Statement" and isinstance(value, list):
                for statement in value:
                    yield kind, statement
            else:
                yield from statements(value, kind)
    elif isinstance(node, list):
        for item in node:
            yield from statements(item, kind)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_statement_anywhere_allows_a_wildcard_action(template: dict[str, Any]) -> None:
    found = list(statements(template))
    assert len(found) > 20
    for kind, statement in found:
        assert "NotAction" not in statement, kind
        actions = as_list(statement["Action"])
        if statement["Effect"] == "Deny":
            # The only deny is TLS enforcement, which must cover every action of the service.
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            continue
        for action in actions:
            assert "*" not in action, f"{kind}: wildcard action {action}"


def test_resource_star_only_where_aws_requires_it(template: dict[str, Any]) -> None:
    for kind, statement in statements(template):
        if kind == "AWS::KMS::Key" or statement.get("Effect") == "Deny":
            continue  # in a key policy "*" means the key itself
        if "*" not in as_list(statement.get("Resource", [])):
            continue
        actions = set(as_list(statement["Action"]))
        if actions == LAG_METRIC:
            # No resource-level permissions either: confined to our namespace instead.
            namespace = statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
            assert namespace in {"fraudstream/dev", "fraudstream/prod"}, statement
            assert list(statement["Condition"]) == ["StringEquals"], statement
        else:
            assert actions <= RESOURCE_STAR_ALLOWED, statement


def role_actions(template: dict[str, Any], role_prefix: str) -> set[str]:
    """All actions granted to the role whose logical id starts with ``role_prefix``."""
    (role_id,) = [rid for rid in resources(template, "AWS::IAM::Role")
                  if rid.startswith(role_prefix)]
    actions: set[str] = set()
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions.update(as_list(statement["Action"]))
    return actions


@pytest.mark.parametrize("service", sorted(EXPECTED_TASK_ACTIONS))
def test_task_role_has_exactly_the_expected_actions(template: dict[str, Any],
                                                    service: str) -> None:
    actions = role_actions(template, f"Services{service.capitalize()}TaskRole")
    assert actions == EXPECTED_TASK_ACTIONS[service]


def test_dashboards_import_role_may_only_get_and_post_under_dashboards(
        template: dict[str, Any]) -> None:
    actions = role_actions(template, "DashboardsImportRole")
    assert actions == {"es:ESHttpGet", "es:ESHttpPost", "logs:CreateLogStream",
                       "logs:PutLogEvents", "sts:AssumeRole"} | VPC_LAMBDA_ENI
    (policy,) = [p for rid, p in resources(template, "AWS::IAM::Policy").items()
                 if rid.startswith("DashboardsImportRole")]
    (es,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
             if "es:ESHttpPost" in as_list(s["Action"])]
    assert es["Resource"]["Fn::Join"][1][1] == "/_dashboards/*"
    # It may become the FGAC master (to map roles at deploy time) and nothing else.
    (assume,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                 if "sts:AssumeRole" in as_list(s["Action"])]
    (admin_role,) = [rid for rid in resources(template, "AWS::IAM::Role")
                     if rid.startswith("SearchAdminRole")]
    assert assume["Resource"] == {"Fn::GetAtt": [admin_role, "Arn"]}


def test_archiver_writes_only_under_the_lake_prefix(template: dict[str, Any]) -> None:
    (role_id,) = [rid for rid in resources(template, "AWS::IAM::Role")
                  if rid.startswith("ServicesArchiverTaskRole")]
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "s3:PutObject" in as_list(statement["Action"]):
                assert json.dumps(statement["Resource"]).endswith('"/lake/*"]]}'), statement
            if statement["Action"] == "s3:ListBucket":
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["lake/*"]}}


def test_scorer_transactions_are_scoped_to_its_own_ids(template: dict[str, Any]) -> None:
    (statement,) = [s for kind, s in statements(template)
                    if "kafka-cluster:AlterTransactionalId" in as_list(s["Action"])]
    text = json.dumps(statement["Resource"])
    assert ":transactional-id/" in text
    assert "/scorer-transactions-*" in text


def test_kafka_grants_name_topics_and_groups_not_the_whole_cluster(
        template: dict[str, Any]) -> None:
    for kind, statement in statements(template):
        actions = as_list(statement["Action"])
        if kind == "AWS::IAM::Policy" and "kafka-cluster:ReadData" in actions:
            text = json.dumps(statement["Resource"])
            assert ":topic/" in text
            assert "/*" not in text


@pytest.mark.parametrize(("backend", "extra"), [
    ("frauddetector", {"frauddetector:GetEventPrediction"}),
    ("sagemaker", {"sagemaker:InvokeEndpoint"}),
])
def test_scorer_backend_permission_only_when_selected(
        backends: dict[str, Synthesized], backend: str, extra: set[str]) -> None:
    template = backends[backend].templates["dev"]
    actions = role_actions(template, "ServicesScorerTaskRole")
    assert actions == EXPECTED_TASK_ACTIONS["scorer"] | extra


def test_cdk_nag_reports_no_unsuppressed_errors(synthesized: Synthesized) -> None:
    from aws_cdk.assertions import Annotations, Match

    for name, stack in synthesized.stacks.items():
        annotations = Annotations.from_stack(stack)
        errors = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
        warnings = annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
        assert errors == [], f"{name}: {[e.entry.data for e in errors]}"
        assert warnings == [], f"{name}: {[w.entry.data for w in warnings]}"


def test_every_suppression_says_why(template: dict[str, Any]) -> None:
    reasons = []
    for resource in template["Resources"].values():
        metadata = resource.get("Metadata", {})
        for rule in metadata.get("cdk_nag", {}).get("rules_to_suppress", []):
            reasons.append(rule["reason"])
        for skip in metadata.get("checkov", {}).get("skip", []):
            reasons.append(skip["comment"])
    assert reasons
    assert all(len(reason) >= 40 for reason in reasons), reasons


def test_templates_are_written(synthesized: Synthesized) -> None:
    for stack in synthesized.stacks.values():
        assert (Path(synthesized.outdir) / stack.template_file).is_file()
