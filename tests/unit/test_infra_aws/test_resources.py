"""Each component exists with the security properties it must have."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="AWS CDK not installed (see infra/aws/README.md)")

from tests.unit.test_infra_aws.conftest import one, resources

SERVICES = ("producer", "scorer", "notifier", "indexer", "archiver", "compliance")


def test_msk_allows_only_iam_over_tls_and_encrypts_at_rest(template: dict[str, Any]) -> None:
    cluster = one(template, "AWS::MSK::Cluster")
    auth = cluster["ClientAuthentication"]
    assert auth["Sasl"]["Iam"]["Enabled"] is True
    assert auth["Sasl"]["Scram"]["Enabled"] is False
    assert auth["Unauthenticated"]["Enabled"] is False
    transit = cluster["EncryptionInfo"]["EncryptionInTransit"]
    assert transit == {"ClientBroker": "TLS", "InCluster": True}
    assert "Fn::GetAtt" in cluster["EncryptionInfo"]["EncryptionAtRest"]["DataVolumeKMSKeyId"]
    assert cluster["KafkaVersion"].startswith("3.9")
    assert cluster["LoggingInfo"]["BrokerLogs"]["CloudWatchLogs"]["Enabled"] is True
    config = one(template, "AWS::MSK::Configuration")["ServerProperties"]
    assert "auto.create.topics.enable=false" in config


def test_opensearch_is_private_encrypted_and_fine_grained(template: dict[str, Any]) -> None:
    domain = one(template, "AWS::OpenSearchService::Domain")
    endpoint = domain["DomainEndpointOptions"]
    assert endpoint["EnforceHTTPS"] is True
    assert endpoint["TLSSecurityPolicy"] in ("Policy-Min-TLS-1-2-2019-07",
                                             "Policy-Min-TLS-1-2-PFS-2023-10")
    assert domain["AdvancedSecurityOptions"]["Enabled"] is True
    assert domain["EncryptionAtRestOptions"]["Enabled"] is True
    assert domain["NodeToNodeEncryptionOptions"]["Enabled"] is True
    assert len(domain["VPCOptions"]["SubnetIds"]) == 2
    assert set(domain["LogPublishingOptions"]) == {
        "AUDIT_LOGS", "ES_APPLICATION_LOGS", "SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS"}
    statements = domain["AccessPolicies"]["Statement"]
    for statement in statements:
        principals = statement["Principal"]["AWS"]
        assert "*" not in json.dumps(principals), "no anonymous principal on the domain"
    # The writers' task roles (indexer, compliance) and the admin role; the Dashboards
    # import only GET/POST.
    assert [len(s["Principal"]["AWS"]) for s in statements] == [3, 1]
    assert statements[1]["Action"] == ["es:ESHttpGet", "es:ESHttpPost"]
    assert json.dumps(statements[1]["Resource"]).endswith('/_dashboards/*"]]}')


def test_every_bucket_blocks_public_access_and_requires_tls(template: dict[str, Any]) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    # The data lake, its access-log bucket and the compliance documents.
    assert len(buckets) == 3
    policies = resources(template, "AWS::S3::BucketPolicy").values()
    for rid, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
        assert props["VersioningConfiguration"]["Status"] == "Enabled"
        assert props["LifecycleConfiguration"]["Rules"]
        policy = next(p for p in policies if p["Properties"]["Bucket"] == {"Ref": rid})
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                  if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    logged = [b["Properties"] for b in buckets.values()
              if "LoggingConfiguration" in b["Properties"]]
    assert len(logged) == 2  # all but the log bucket itself
    for bucket in logged:
        rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_alerts_topic_is_kms_encrypted_with_an_email_subscription(
        template: dict[str, Any]) -> None:
    topic = one(template, "AWS::SNS::Topic")
    assert "Fn::GetAtt" in topic["KmsMasterKeyId"]
    subscription = one(template, "AWS::SNS::Subscription")
    assert subscription["Protocol"] == "email"
    assert subscription["Endpoint"] == {"Ref": "YourEmail"}


def _containers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        out[container["Name"]] = container
    return out


def test_each_container_is_hardened_and_health_checked(template: dict[str, Any]) -> None:
    containers = _containers(template)
    assert set(containers) == set(SERVICES)
    for name, c in containers.items():
        assert c["ReadonlyRootFilesystem"] is True, name
        assert c["User"] == "10001:10001", name
        assert c["StopTimeout"] == 30, name
        command = c["HealthCheck"]["Command"]
        assert command[:3] == ["CMD", "python", "-c"], name
        assert "/healthz" in command[3], name
        assert c["LogConfiguration"]["LogDriver"] == "awslogs", name
        assert c["LinuxParameters"]["Capabilities"]["Drop"] == ["ALL"], name
        assert c["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False,
                                     "SourceVolume": "tmp"}], name
        assert not c.get("Secrets"), "no secrets are needed: every client uses its task role"


def test_one_task_role_and_one_execution_role_per_service(template: dict[str, Any]) -> None:
    tasks = resources(template, "AWS::ECS::TaskDefinition").values()
    task_roles = {json.dumps(t["Properties"]["TaskRoleArn"]) for t in tasks}
    execution_roles = {json.dumps(t["Properties"]["ExecutionRoleArn"]) for t in tasks}
    assert len(task_roles) == len(execution_roles) == len(SERVICES)
    assert not task_roles & execution_roles
    assert len(resources(template, "AWS::ECS::Service")) == len(SERVICES)
    assert len(resources(template, "AWS::ECS::Cluster")) == 1


def test_repositories_scan_on_push_and_are_immutable(template: dict[str, Any]) -> None:
    repos = resources(template, "AWS::ECR::Repository").values()
    assert len(repos) == len(SERVICES)
    for repo in repos:
        assert repo["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert repo["Properties"]["ImageTagMutability"] == "IMMUTABLE"


def test_consumers_scale_on_cpu_and_on_consumer_lag(template: dict[str, Any]) -> None:
    consumers = {"scorer", "notifier", "indexer", "archiver"}
    assert len(resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")) == 4
    policies = [p["Properties"] for p in
                resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()]
    cpu = [p for p in policies if p["PolicyType"] == "TargetTrackingScaling"]
    assert len(cpu) == len(consumers)
    # Step scaling on the lag the services publish: a scale-out and a scale-in policy each,
    # except for the archiver, whose lag includes its flush buffers (CPU only).
    steps = [p for p in policies if p["PolicyType"] == "StepScaling"]
    assert len(steps) == 2 * (len(consumers) - 1)
    lag_alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
                  if a["Properties"].get("MetricName") == "ConsumerLag"]
    assert len({a["Namespace"] for a in lag_alarms}) == 1
    assert lag_alarms[0]["Namespace"] in {"fraudstream/dev", "fraudstream/prod"}
    assert {a["Statistic"] for a in lag_alarms} == {"Sum"}
    assert {a["Period"] for a in lag_alarms} == {60}  # one datum per task per minute
    services = {d["Value"] for a in lag_alarms for d in a["Dimensions"] if d["Name"] == "Service"}
    assert services == consumers - {"archiver"}
    # Every consumer's lag is alarmed on, sustained: 5 minutes, 15 for the buffering archiver.
    monitored = {}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        for query in alarm["Properties"].get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("MetricName") == "ConsumerLag":
                (service,) = [d["Value"] for d in metric["Dimensions"] if d["Name"] == "Service"]
                monitored[service] = alarm["Properties"]["EvaluationPeriods"]
    assert monitored == {"scorer": 5, "notifier": 5, "indexer": 5, "archiver": 15}


def test_consumers_are_told_where_to_publish_their_lag(template: dict[str, Any]) -> None:
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        namespace = env.get("CLOUDWATCH_NAMESPACE")
        if container["Name"] in ("producer", "compliance"):
            assert namespace is None  # no Kafka consumer group to lag
        else:
            assert namespace in {"fraudstream/dev", "fraudstream/prod"}, container["Name"]


def test_alarms_cover_lag_dead_letters_errors_and_tasks_and_notify(
        template: dict[str, Any]) -> None:
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    topic_ref = {"Ref": next(iter(resources(template, "AWS::SNS::Topic")))}
    monitored = [a for a in alarms if topic_ref in a.get("AlarmActions", [])]
    names = {a.get("MetricName") or a["Metrics"][0]["MetricStat"]["Metric"]["MetricName"]
             for a in monitored}
    assert names >= {"ConsumerLag", "DeadLettered", "Errors", "RunningTaskCount"}
    assert len(resources(template, "AWS::CloudWatch::Dashboard")) == 1


def test_vpc_endpoints_and_narrow_security_groups(template: dict[str, Any]) -> None:
    endpoints = resources(template, "AWS::EC2::VPCEndpoint").values()
    names = {json.dumps(e["Properties"]["ServiceName"]) for e in endpoints}
    for service in ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "sns", "sts", ".s3"):
        assert any(service in n for n in names), service
    ingress = resources(template, "AWS::EC2::SecurityGroupIngress").values()
    ports = {(r["Properties"]["FromPort"], r["Properties"]["ToPort"]) for r in ingress}
    assert ports <= {(9098, 9098), (443, 443)}
