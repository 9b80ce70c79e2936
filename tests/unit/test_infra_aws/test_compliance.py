"""The compliance construct on its own: encrypted bucket and queues, the upload notification,
the DLQ and its alarm, least-privilege grants and the service environment."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="AWS CDK not installed (see infra/aws/README.md)")

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from tests.unit.test_infra_aws.conftest import INFRA

if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

from fraudstream_aws.compliance import ComplianceDocuments


def _stack(**options: Any) -> tuple[Template, ComplianceDocuments, cdk.Stack]:
    documents, stack = _build(**options)
    return Template.from_stack(stack), documents, stack


def _build(**options: Any) -> tuple[ComplianceDocuments, cdk.Stack]:
    app = cdk.App()
    stack = cdk.Stack(app, "ComplianceTest", env=cdk.Environment(account="111111111111",
                                                                region="eu-west-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    logs = s3.Bucket(stack, "Logs", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True)
    documents = ComplianceDocuments(stack, "Compliance", key=key, access_logs=logs, **options)
    role = iam.Role(stack, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    documents.grant_service(role)
    return documents, stack


@pytest.fixture(scope="module")
def built() -> tuple[Template, ComplianceDocuments, cdk.Stack]:
    return _stack()


def test_bucket_is_kms_encrypted_private_tls_only_and_versioned(built) -> None:  # type: ignore[no-untyped-def]
    template, _, _ = built
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [Match.object_like({
            "ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "VersioningConfiguration": {"Status": "Enabled"},
    })
    policy = json.dumps(template.find_resources("AWS::S3::BucketPolicy"))
    assert '"aws:SecureTransport": "false"' in policy


def test_queues_are_encrypted_and_the_upload_queue_redrives_to_the_dlq(built) -> None:  # type: ignore[no-untyped-def]
    template, _, _ = built
    queues = template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 2
    for queue in queues.values():
        assert "KmsMasterKeyId" in queue["Properties"]
    template.has_resource_properties("AWS::SQS::Queue", {
        "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": 5},
        "VisibilityTimeout": 300, "ReceiveMessageWaitTimeSeconds": 20,
    })
    template.has_resource_properties("AWS::SQS::QueuePolicy", Match.object_like({
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Effect": "Deny"})])}}))


def test_only_the_upload_prefix_notifies_the_queue(built) -> None:  # type: ignore[no-untyped-def]
    template, _, _ = built
    (notification,) = template.find_resources("Custom::S3BucketNotifications").values()
    queues = notification["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    (queue,) = queues
    assert queue["Events"] == ["s3:ObjectCreated:*"]
    assert queue["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}
    assert "ComplianceUploads" in json.dumps(queue["QueueArn"])  # not the dead-letter queue
    # S3 may encrypt the messages it sends with the queue's key.
    key_policy = json.dumps(template.find_resources("AWS::KMS::Key"))
    assert "s3.amazonaws.com" in key_policy


def test_dead_letters_raise_an_alarm(built) -> None:  # type: ignore[no-untyped-def]
    template, _, _ = built
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
    })


def _statements(template: Template) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def test_the_task_role_reads_uploads_and_writes_only_the_destinations(built) -> None:  # type: ignore[no-untyped-def]
    template, _, _ = built
    statements = _statements(template)
    text = json.dumps(statements)
    for prefix in ("uploads/*", "pii/*", "clean/*", "rejected/*", "redacted/*"):
        assert prefix in text
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        assert not any(action.endswith("*") for action in actions), actions
        if any(a.startswith("s3:PutObject") for a in actions):
            assert "uploads/*" not in json.dumps(statement["Resource"])
        if any(a.startswith("s3:DeleteObject") for a in actions):
            assert "uploads/*" in json.dumps(statement["Resource"])
            assert "pii/*" not in json.dumps(statement["Resource"])
    assert "sqs:ReceiveMessage" in text
    assert "sqs:DeleteMessage" in text
    assert "kms:GenerateDataKey" in text


def test_environment_matches_the_service_settings(built) -> None:  # type: ignore[no-untyped-def]
    _, documents, stack = built
    env = documents.environment("eu-west-1")
    resolved = {name: stack.resolve(value) for name, value in env.items()}
    assert resolved["COMPLIANCE_STORAGE"] == "s3"
    assert resolved["COMPLIANCE_UPLOAD_PREFIX"] == "uploads/"
    assert "Ref" in json.dumps(resolved["COMPLIANCE_SQS_QUEUE_URL"])
    assert "Fn::GetAtt" in json.dumps(resolved["COMPLIANCE_KMS_KEY_ID"])


def test_a_given_bucket_and_prefixes_are_used_as_they_are() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Given")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Existing", encryption=s3.BucketEncryption.KMS,
                       encryption_key=key, enforce_ssl=True)
    documents = ComplianceDocuments(stack, "Compliance", key=key, bucket=bucket,
                                    prefixes={"upload": "inbox/"})
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::S3::Bucket", 1)  # no bucket of its own
    assert documents.bucket is bucket
    (notification,) = template.find_resources("Custom::S3BucketNotifications").values()
    rules = notification["Properties"]["NotificationConfiguration"]["QueueConfigurations"][0][
        "Filter"]["Key"]["FilterRules"]
    assert rules == [{"Name": "prefix", "Value": "inbox/"}]


def test_cdk_nag_finds_nothing_in_the_construct() -> None:
    from aws_cdk import Aspects
    from cdk_nag import AwsSolutionsChecks

    _, stack = _build()
    Aspects.of(stack).add(AwsSolutionsChecks())
    assembly = cdk.App.of(stack).synth()  # type: ignore[union-attr]
    findings = [f"{m.id}: {m.entry.data}" for m in
                assembly.get_stack_by_name(stack.stack_name).messages
                if "BucketNotificationsHandler" not in m.id]
    # CDK's own notification handler (a singleton Lambda in the stack) is the stack's to
    # suppress; everything this construct creates passes.
    assert findings == []
