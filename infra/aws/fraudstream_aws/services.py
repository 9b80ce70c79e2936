"""ECS on Fargate: one cluster, one ECR repository and one service per fraudstream service.

Each service gets its own execution role (pull its image, write its logs) and
its own task role (only what the service itself calls); the roles start empty
and every component grants what it owns (``KafkaCluster.grant``,
``AlertsTopic.grant_publish``, ``SearchDomain.grant_http``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from fraudstream_aws.config import CONSUMERS, SERVICES, EnvironmentConfig
from fraudstream_aws.keys import customer_key, log_group
from fraudstream_aws.nag import checkov_skip, suppress

HTTP_PORTS: Mapping[str, int] = {"producer": 8001, "scorer": 8002, "notifier": 8003,
                                 "indexer": 8004, "archiver": 8005, "compliance": 8006}
"""The ports the Dockerfiles expose (``HTTP_PORT``)."""

APP_USER = "10001:10001"
"""The non-root user the Dockerfiles create."""

STOP_TIMEOUT_S = 30
"""ECS's SIGTERM-to-SIGKILL budget; services drain within ``SHUTDOWN_TIMEOUT_S`` (25 s)."""

HEALTH_CHECK = [
    "CMD", "python", "-c",
    "import os, urllib.request; "
    "urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"HTTP_PORT\"]}/healthz', timeout=2)",
]
"""The Dockerfiles' HEALTHCHECK: the images carry no curl, so Python's urllib probes."""


@dataclass(frozen=True)
class Endpoints:
    """Where the AWS resources the services talk to are (deploy-time values)."""

    region: str
    kafka_bootstrap: str
    opensearch_url: str
    alerts_topic_arn: str
    lake_bucket: str
    lake_prefix: str
    compliance: Mapping[str, str]
    """The compliance service's bucket, key, queue and prefixes (``ComplianceDocuments``)."""


def task_environments(config: EnvironmentConfig, endpoints: Endpoints, *,
                      sent_suffix: str) -> dict[str, dict[str, str]]:
    """Each service's container environment: only names its settings class reads.

    ``tests/unit/test_infra_aws/test_environments.py`` checks every name
    against the settings fields, so a typo fails the build instead of being
    silently ignored by pydantic-settings at run time.
    """
    tx, decisions, labels = (config.transactions_topic, config.decisions_topic,
                             config.labels_topic)
    common = {
        "LOG_LEVEL": config.log_level,
        "AWS_REGION": endpoints.region,
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap,
        # MSK IAM: a SigV4-signed OAUTHBEARER token from the task role, over TLS only.
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
        "KAFKA_TOPIC_PARTITIONS": str(config.kafka_partitions),
        "KAFKA_REPLICATION_FACTOR": str(config.kafka_replication_factor),
        "KAFKA_CREATE_TOPICS": "true",
        "SHUTDOWN_TIMEOUT_S": str(STOP_TIMEOUT_S - 5),
    }
    scorer = {"TRANSACTIONS_TOPIC": tx, "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": labels,
              "SCORER_BACKEND": config.scorer_backend}
    if config.scorer_backend == "frauddetector":
        scorer |= {"FRAUDDETECTOR_DETECTOR_ID": config.fraud_detector_name,
                   "FRAUDDETECTOR_EVENT_TYPE": config.fraud_detector_event_name,
                   "FRAUDDETECTOR_ENTITY_TYPE": config.fraud_detector_entity_type}
    elif config.scorer_backend == "sagemaker":
        scorer |= {"SAGEMAKER_ENDPOINT_NAME": config.sagemaker_endpoint_name}
    own = {
        "producer": {"TRANSACTIONS_TOPIC": tx, "LABELS_TOPIC": labels},
        "scorer": scorer,
        "notifier": {"DECISIONS_TOPIC": decisions, "NOTIFIER_SENT_TOPIC": decisions + sent_suffix,
                     "NOTIFIER_CHANNEL": "sns", "SNS_TOPIC_ARN": endpoints.alerts_topic_arn},
        "indexer": {"DECISIONS_TOPIC": decisions, "OPENSEARCH_INDEX": decisions,
                    "OPENSEARCH_URL": endpoints.opensearch_url, "OPENSEARCH_AUTH": "sigv4"},
        "archiver": {"DECISIONS_TOPIC": decisions, "LABELS_TOPIC": labels,
                     "ARCHIVER_DESTINATION": "s3", "ARCHIVER_S3_BUCKET": endpoints.lake_bucket,
                     "ARCHIVER_S3_PREFIX": endpoints.lake_prefix},
        "compliance": {"FINDINGS_TOPIC": config.findings_topic,
                       "COMPLIANCE_INDEX": config.findings_topic,
                       "OPENSEARCH_URL": endpoints.opensearch_url, "OPENSEARCH_AUTH": "sigv4",
                       **endpoints.compliance},
    }
    # Consumers publish their lag there every minute; it is what they scale on.
    lag = {"CLOUDWATCH_NAMESPACE": config.metrics_namespace}
    return {svc: {**common, **own[svc], **(lag if svc in CONSUMERS else {})}
            for svc in SERVICES}


@dataclass(frozen=True)
class Consumption:
    """What a service consumes and in which group (the lag metric's dimensions)."""

    service: str
    topic: str
    group: str
    buffered: bool = False
    """Commits only after a flush (the archiver): its lag always includes up to a flush
    interval of traffic, so it scales on CPU alone and its lag alarm waits longer."""


class ServiceFleet(Construct):
    """The cluster, the repositories, the roles and (after :meth:`deploy`) the services."""

    def __init__(self, scope: Construct, cid: str, *, config: EnvironmentConfig, vpc: ec2.IVpc,
                 logs_key: kms.IKey) -> None:
        super().__init__(scope, cid)
        self.config = config
        self.vpc = vpc
        self.logs_key = logs_key
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc,
                                   container_insights_v2=ecs.ContainerInsights.ENHANCED)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self.images_key = customer_key(self, "ImagesKey", "fraudstream container images",
                                       removal=removal)
        self.repositories: dict[str, ecr.Repository] = {}
        self.task_roles: dict[str, iam.Role] = {}
        self.execution_roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.services: dict[str, ecs.FargateService] = {}
        for svc in SERVICES:
            self.repositories[svc] = ecr.Repository(
                self, f"{svc.capitalize()}Repository",
                repository_name=f"{config.stack_name}/{svc}",
                image_scan_on_push=True,
                image_tag_mutability=ecr.TagMutability.IMMUTABLE,
                encryption=ecr.RepositoryEncryption.KMS, encryption_key=self.images_key,
                lifecycle_rules=[ecr.LifecycleRule(max_image_count=30,
                                                   description="keep the last 30 images")],
                removal_policy=removal,
            )
            self.task_roles[svc] = iam.Role(
                self, f"{svc.capitalize()}TaskRole",
                assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                description=f"fraudstream {svc}: what the service itself calls",
            )
            self.execution_roles[svc] = iam.Role(
                self, f"{svc.capitalize()}ExecutionRole",
                assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                description=f"fraudstream {svc}: ECS agent pulls the image and ships logs",
            )
            self.log_groups[svc] = log_group(self, f"{svc.capitalize()}Logs", config, logs_key)

    def deploy(self, svc: str, *, security_group: ec2.ISecurityGroup,
               environment: Mapping[str, str],
               secrets: Mapping[str, ecs.Secret] | None = None) -> ecs.FargateService:
        """Create ``svc``'s task definition and Fargate service.

        ``secrets`` must come from ``ecs.Secret.from_secrets_manager``: ECS
        injects them at start and grants the execution role to read exactly
        those secrets, so no secret ever sits in the task definition.
        """
        size = self.config.task(svc)
        task = ecs.FargateTaskDefinition(
            self, f"{svc.capitalize()}Task", cpu=size.cpu, memory_limit_mib=size.memory_mib,
            task_role=self.task_roles[svc], execution_role=self.execution_roles[svc],
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.X86_64),
            volumes=[ecs.Volume(name="tmp")],
        )
        port = HTTP_PORTS[svc]
        container = task.add_container(
            svc,
            image=ecs.ContainerImage.from_ecr_repository(self.repositories[svc],
                                                         tag=self.config.image_tag),
            environment={"HTTP_PORT": str(port), **environment},
            secrets=dict(secrets or {}),
            user=APP_USER,
            readonly_root_filesystem=True,
            stop_timeout=Duration.seconds(STOP_TIMEOUT_S),
            health_check=ecs.HealthCheck(command=HEALTH_CHECK, interval=Duration.seconds(10),
                                         timeout=Duration.seconds(3), retries=3,
                                         start_period=Duration.seconds(30)),
            logging=ecs.LogDrivers.aws_logs(stream_prefix=svc, log_group=self.log_groups[svc],
                                            mode=ecs.AwsLogDriverMode.NON_BLOCKING),
            port_mappings=[ecs.PortMapping(container_port=port, name="http")],
            linux_parameters=self._linux_parameters(svc),
        )
        # The root filesystem is read-only; Python's tempfile still needs a writable /tmp.
        container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp",
                                                  read_only=False))
        service = ecs.FargateService(
            self, f"{svc.capitalize()}Service", cluster=self.cluster, task_definition=task,
            desired_count=size.desired, security_groups=[security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100, max_healthy_percent=200,
            enable_ecs_managed_tags=True, propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        self._document_execution_role(svc)
        suppress(task, "AwsSolutions-ECS2",
                 "Only non-secret configuration (topic names, endpoints, sizes) is plain "
                 "environment; Kafka, SNS and OpenSearch authenticate with the task role, and "
                 "any secret goes through ecs.Secret.from_secrets_manager (the secrets argument).")
        self.services[svc] = service
        return service

    def _linux_parameters(self, svc: str) -> ecs.LinuxParameters:
        params = ecs.LinuxParameters(self, f"{svc.capitalize()}Linux", init_process_enabled=True)
        params.drop_capabilities(ecs.Capability.ALL)
        return params

    def _document_execution_role(self, svc: str) -> None:
        suppress(
            self.execution_roles[svc], "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken has no resource-level permissions; AWS requires "
            "Resource '*' for it. Every other ECR and Logs action is scoped to this "
            "service's repository and log group.",
            applies_to=["Resource::*"], children=True,
        )

    def autoscale(self, consumption: Consumption) -> None:
        """Scale a consumer on CPU and on the lag it publishes, never past the partition count.

        Its task role may put metric data into this environment's namespace only.
        """
        svc = consumption.service
        grant_lag_metric(self.task_roles[svc], self.config.metrics_namespace)
        size = self.config.task(svc)
        scaling = self.services[svc].auto_scale_task_count(min_capacity=size.desired,
                                                           max_capacity=size.max_count)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=70,
                                         scale_in_cooldown=Duration.seconds(300),
                                         scale_out_cooldown=Duration.seconds(60))
        if consumption.buffered:
            return
        step = self.config.lag_scale_out
        scaling.scale_on_metric(
            "Lag", metric=consumer_lag(self.config.metrics_namespace, consumption),
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.seconds(120),
            scaling_steps=[
                appscaling.ScalingInterval(upper=step // 10, change=-1),
                appscaling.ScalingInterval(lower=step, change=+1),
                appscaling.ScalingInterval(lower=step * 5, change=+3),
            ],
        )


def consumer_lag(namespace: str, consumption: Consumption) -> cloudwatch.Metric:
    """The group's lag as its tasks publish it (``fraudstream_shared.aws.cloudwatch``).

    Every task sends one ``ConsumerLag`` datum per minute for the partitions it
    owns, so the one-minute ``Sum`` is the whole group's uncommitted messages.
    """
    return cloudwatch.Metric(
        namespace=namespace, metric_name="ConsumerLag",
        dimensions_map={"Service": consumption.service, "ConsumerGroup": consumption.group},
        statistic="Sum", period=Duration.minutes(1),
    )


def grant_lag_metric(role: iam.Role, namespace: str) -> None:
    """Let ``role`` publish metrics into ``namespace`` and nowhere else."""
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["cloudwatch:PutMetricData"], resources=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": namespace}}))
    suppress(role, "AwsSolutions-IAM5",
             "cloudwatch:PutMetricData has no resource-level permissions (AWS requires "
             "Resource '*'); the cloudwatch:namespace condition limits it to this "
             "environment's namespace.", applies_to=["Resource::*"], children=True)
    checkov_skip(role.node.find_child("DefaultPolicy"), "CKV_AWS_111",
                 "cloudwatch:PutMetricData takes Resource '*' only; a cloudwatch:namespace "
                 "condition confines it to this environment's metrics.")
