"""The fraudstream stack: wires the components and hands each task role its grants."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, CfnParameter, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from fraudstream_aws.alerts import AlertsTopic
from fraudstream_aws.compliance import ComplianceDocuments
from fraudstream_aws.config import CONSUMERS, EnvironmentConfig
from fraudstream_aws.dashboards import DashboardsImport, import_role
from fraudstream_aws.datalake import DataLake
from fraudstream_aws.kafka import KafkaCluster
from fraudstream_aws.keys import customer_key, logs_key
from fraudstream_aws.monitoring import Monitoring
from fraudstream_aws.nag import checkov_skip, suppress
from fraudstream_aws.network import HTTPS, SEARCH_WRITERS, Network
from fraudstream_aws.reporting import Reporting, grant_archiver
from fraudstream_aws.search import SearchDomain
from fraudstream_aws.services import Consumption, Endpoints, ServiceFleet, task_environments

DLQ = ".dlq"
SCORER_GROUP = "scorer"
"""The scorer's consumer group (= its service name): it names its changelog and transactions."""
SENT = ".notified"
LAKE_PREFIX = "lake/"
"""Where the archiver writes in the data-lake bucket (and the Glue tables point)."""


class FraudstreamStack(Stack):
    """Everything fraudstream needs in one account and region, for one environment."""

    def __init__(self, scope: Construct, cid: str, *, config: EnvironmentConfig,
                 **kwargs: object) -> None:
        super().__init__(scope, cid, description=f"fraudstream ({config.name})", **kwargs)
        self.config = config
        email = CfnParameter(
            self, "YourEmail", type="String", allowed_pattern=r"[^@\s]+@[^@\s]+",
            description="Address subscribed to fraud alerts and operational alarms",
        )
        key = logs_key(self, "LogsKey")
        net = Network(self, "Network", config=config, logs_key=key)
        kafka = KafkaCluster(self, "Kafka", config=config, vpc=net.vpc,
                             security_group=net.kafka_group, logs_key=key)
        alerts = AlertsTopic(self, "Alerts", email=email.value_as_string)
        self.data_lake = DataLake(self, "DataLake", config=config)
        # The second sample's reporting: Glue tables over the archiver's Parquet, Athena queries.
        self.reporting = Reporting(self, "Reporting", bucket=self.data_lake.bucket,
                                   key=self.data_lake.key, prefix=LAKE_PREFIX,
                                   database_name=f"fraudstream_{config.name}",
                                   workgroup_name=config.stack_name)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        # The second sample's compliance uploads: own bucket and key, S3 → SQS notifications.
        self.documents = ComplianceDocuments(
            self, "Compliance", removal=removal,
            key=customer_key(self, "ComplianceKey", "fraudstream compliance documents",
                             removal=removal),
            access_logs=self.data_lake.access_logs)
        fleet = ServiceFleet(self, "Services", config=config, vpc=net.vpc, logs_key=key)
        roles = fleet.task_roles
        importer = import_role(self, "DashboardsImportRole")
        search = SearchDomain(self, "Search", config=config, vpc=net.vpc,
                              security_group=net.search_group,
                              writer_roles=[roles[svc] for svc in SEARCH_WRITERS],
                              import_role=importer, logs_key=key)
        self.dashboards = DashboardsImport(
            self, "Dashboards", config=config, vpc=net.vpc,
            security_group=net.dashboards_import_group, search=search, role=importer,
            logs_key=key,
            writers={"indexer": (roles["indexer"], [f"{config.decisions_topic}*"]),
                     "compliance": (roles["compliance"], [f"{config.findings_topic}*"])})

        tx, decisions, labels = (config.transactions_topic, config.decisions_topic,
                                 config.labels_topic)
        # Every service creates the topics it owns at start (KAFKA_CREATE_TOPICS=true).
        kafka.grant(roles["producer"], produce=[tx, labels], create=[tx, labels])
        # The scorer also follows the labels, keeps its feature state in a changelog topic
        # and writes each input partition's results in a Kafka transaction of its own.
        changelog = f"{SCORER_GROUP}-features-changelog"
        kafka.grant(roles["scorer"], consume=[tx, labels, changelog],
                    produce=[decisions, tx + DLQ, changelog],
                    create=[tx, decisions, tx + DLQ, labels, changelog], groups=[SCORER_GROUP],
                    transactional_ids=[f"{SCORER_GROUP}-{tx}-"])
        kafka.grant(roles["notifier"], consume=[decisions, decisions + SENT],
                    produce=[decisions + SENT, decisions + DLQ],
                    create=[decisions, decisions + DLQ, decisions + SENT], groups=["notifier"])
        kafka.grant(roles["indexer"], consume=[decisions], produce=[decisions + DLQ],
                    create=[decisions, decisions + DLQ], groups=["indexer"])
        kafka.grant(roles["archiver"], consume=[decisions, labels],
                    produce=[decisions + DLQ, labels + DLQ],
                    create=[decisions, labels, decisions + DLQ, labels + DLQ], groups=["archiver"])
        grant_archiver(roles["archiver"], self.data_lake.bucket, self.data_lake.key,
                       prefix=LAKE_PREFIX)
        findings = config.findings_topic
        kafka.grant(roles["compliance"], produce=[findings], create=[findings])
        self.documents.grant_service(roles["compliance"])
        self.documents.dead_letter_alarm.add_alarm_action(cloudwatch_actions.SnsAction(alerts.topic))
        alerts.grant_publish(roles["notifier"])
        self._grant_scorer_backend(roles["scorer"])

        bootstrap = self._bootstrap_brokers(kafka)
        environments = task_environments(
            config, Endpoints(region=Aws.REGION, kafka_bootstrap=bootstrap,
                              opensearch_url=search.endpoint_url,
                              alerts_topic_arn=alerts.topic.topic_arn,
                              lake_bucket=self.data_lake.bucket.bucket_name,
                              lake_prefix=LAKE_PREFIX,
                              compliance=self.documents.environment(Aws.REGION)),
            sent_suffix=SENT)
        for svc, env in environments.items():
            fleet.deploy(svc, security_group=net.service_groups[svc], environment=env)
        consumers = {
            "scorer": Consumption(service="scorer", topic=tx, group=SCORER_GROUP),
            "notifier": Consumption(service="notifier", topic=decisions, group="notifier"),
            "indexer": Consumption(service="indexer", topic=decisions, group="indexer"),
            "archiver": Consumption(service="archiver", topic=decisions, group="archiver",
                                    buffered=True),
        }
        assert set(consumers) == set(CONSUMERS)
        for consumption in consumers.values():
            fleet.autoscale(consumption)
        self.monitoring = Monitoring(
            self, "Monitoring", config=config, topic=alerts.topic,
            services=fleet.services,
            log_groups=fleet.log_groups, consumers=consumers)
        if config.bastion:
            self._bastion(net, search)
        self._document_bucket_notifications_lambda()

        self.fleet, self.kafka, self.search, self.alerts, self.network = (
            fleet, kafka, search, alerts, net)
        CfnOutput(self, "DashboardsUrl", value=f"{search.endpoint_url}/_dashboards",
                  description="Reachable only from inside the VPC (see README)")
        CfnOutput(self, "OpenSearchAdminRoleArn", value=search.admin_role.role_arn)
        CfnOutput(self, "OpenSearchEndpoint", value=search.domain.attr_domain_endpoint)
        CfnOutput(self, "DashboardsImportRoleArn", value=importer.role_arn,
                  description="Mapped to kibana_user by the deployment itself")
        CfnOutput(self, "DataLakeBucket", value=self.data_lake.bucket.bucket_name)
        CfnOutput(self, "ComplianceUploadUri",
                  value=f"s3://{self.documents.bucket.bucket_name}/"
                        f"{self.documents.prefixes['upload']}",
                  description="Upload PDFs here; findings go to the compliance_findings topic")
        CfnOutput(self, "DashboardsImportFunction", value=self.dashboards.function.function_name)
        CfnOutput(self, "DashboardsImportResult",
                  value=self.dashboards.resource.get_att_string("Result"))
        CfnOutput(self, "AlertsTopicArn", value=alerts.topic.topic_arn)
        CfnOutput(self, "KafkaBootstrapServers", value=bootstrap)
        CfnOutput(self, "ClusterName", value=fleet.cluster.cluster_name)
        for svc, repo in fleet.repositories.items():
            CfnOutput(self, f"{svc.capitalize()}RepositoryUri", value=repo.repository_uri)

    def _grant_scorer_backend(self, role: iam.IRole) -> None:
        """Only the backend the scorer is configured for gets a permission."""
        c = self.config
        if c.scorer_backend == "frauddetector":
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["frauddetector:GetEventPrediction"],
                resources=[self.format_arn(service="frauddetector", resource="detector",
                                           resource_name=c.fraud_detector_name),
                           self.format_arn(service="frauddetector", resource="event-type",
                                           resource_name=c.fraud_detector_event_name)]))
        elif c.scorer_backend == "sagemaker":
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["sagemaker:InvokeEndpoint"],
                resources=[self.format_arn(service="sagemaker", resource="endpoint",
                                           resource_name=c.sagemaker_endpoint_name)]))

    def _bootstrap_brokers(self, kafka: KafkaCluster) -> str:
        """MSK's IAM bootstrap string: CloudFormation has no attribute for it, so ask the API."""
        call = cr.AwsSdkCall(
            service="Kafka", action="getBootstrapBrokers",
            parameters={"ClusterArn": kafka.arn},
            physical_resource_id=cr.PhysicalResourceId.of(f"{kafka.cluster_name}-bootstrap"),
            output_paths=["BootstrapBrokerStringSaslIam"],
        )
        lookup = cr.AwsCustomResource(
            self, "KafkaBootstrap", on_create=call, on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(
                actions=["kafka:GetBootstrapBrokers"], resources=[kafka.arn])]),
            install_latest_aws_sdk=False,
        )
        self._document_custom_resource_lambda()
        return lookup.get_response_field("BootstrapBrokerStringSaslIam")

    def _document_custom_resource_lambda(self) -> None:
        provider = self.node.try_find_child("AWS679f53fac002430cb0da5b7982bd2287")
        if provider is None:
            return
        reason = ("CDK's AwsCustomResource provider: a deploy-time Lambda that only calls "
                  "kafka:GetBootstrapBrokers on this cluster.")
        suppress(provider, "AwsSolutions-IAM4",
                 reason + " Its role has AWSLambdaBasicExecutionRole (log writing only).",
                 applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                             "AWSLambdaBasicExecutionRole"], children=True)
        suppress(provider, "AwsSolutions-L1",
                 reason + " CDK pins its runtime; it moves with aws-cdk-lib upgrades.",
                 children=True)
        for check, why in (
            ("CKV_AWS_115", "runs only during deployments; concurrency limits add nothing"),
            ("CKV_AWS_116", "CloudFormation custom resource: failures surface in the stack"),
            ("CKV_AWS_117", "calls only the public MSK control-plane API, needs no VPC"),
            ("CKV_AWS_173", "its environment holds no secrets"),
        ):
            checkov_skip(provider, check, reason + " " + why)

    def _document_bucket_notifications_lambda(self) -> None:
        """CDK's singleton Lambda that writes the compliance bucket's notification config."""
        handler = self.node.try_find_child(
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
        if handler is None:
            return
        reason = ("CDK's BucketNotificationsHandler: a deploy-time Lambda that only puts the "
                  "compliance bucket's S3 → SQS notification configuration.")
        suppress(handler, "AwsSolutions-IAM4",
                 reason + " Its role has AWSLambdaBasicExecutionRole (log writing only).",
                 applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                             "AWSLambdaBasicExecutionRole"], children=True)
        suppress(handler, "AwsSolutions-IAM5",
                 reason + " s3:PutBucketNotification takes the bucket it configures.",
                 applies_to=["Resource::*"], children=True)
        for check, why in (
            ("CKV_AWS_115", "runs only during deployments; concurrency limits add nothing"),
            ("CKV_AWS_116", "CloudFormation custom resource: failures surface in the stack"),
            ("CKV_AWS_117", "calls only the public S3 control-plane API, needs no VPC"),
            ("CKV_AWS_173", "its environment holds no secrets"),
        ):
            checkov_skip(handler.node.find_child("Resource"), check, reason + " " + why)

    def _bastion(self, net: Network, search: SearchDomain) -> None:
        """An SSM-only instance (no SSH, no public IP) for port forwarding to the dashboards."""
        role = iam.Role(self, "BastionRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                        description="Session Manager agent on the port-forwarding bastion")
        # The Session Manager minimum, spelled out (AmazonSSMManagedInstanceCore has wildcards).
        # These APIs have no resource-level permissions, so AWS requires Resource "*".
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
                     "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
                     "ssmmessages:OpenDataChannel"],
            resources=["*"]))
        group = ec2.SecurityGroup(self, "BastionSg", vpc=net.vpc, allow_all_outbound=False,
                                  description="SSM port-forwarding bastion")
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS), "SSM and OpenSearch")
        host = ec2.Instance(
            self, "Bastion", vpc=net.vpc, role=role, security_group=group,
            instance_type=ec2.InstanceType("t3.nano"),
            machine_image=ec2.MachineImage.latest_amazon_linux2023(),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            require_imdsv2=True, detailed_monitoring=False, ebs_optimized=True,
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda",
                                           volume=ec2.BlockDeviceVolume.ebs(8, encrypted=True))],
        )
        net.search_group.add_ingress_rule(group, ec2.Port.tcp(HTTPS),
                                          "bastion port forwarding to OpenSearch")
        suppress(host, "AwsSolutions-EC28",
                 "Dev-only SSM bastion for port forwarding; detailed monitoring adds cost only.")
        suppress(host, "AwsSolutions-EC29",
                 "Dev-only SSM bastion holding no data; it is meant to be replaced freely.")
        suppress(role, "AwsSolutions-IAM5",
                 "Session Manager's agent APIs (ssm:UpdateInstanceInformation, ssmmessages:*"
                 "Channel) have no resource-level permissions; AWS requires Resource '*'.",
                 applies_to=["Resource::*"], children=True)
        policy = role.node.find_child("DefaultPolicy")
        checkov_skip(policy, "CKV_AWS_111",
                     "Session Manager agent actions have no resource-level permissions.")
        checkov_skip(host, "CKV_AWS_126",
                     "Dev-only bastion; detailed monitoring adds cost only.")
        CfnOutput(self, "BastionInstanceId", value=host.instance_id)
