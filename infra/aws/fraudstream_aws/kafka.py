"""The MSK cluster: Kafka 3.9, IAM auth over TLS only, KMS at rest, broker logs in CloudWatch.

Topics are not created here: every service creates the topics it owns at start
with explicit partitions and replication (``KAFKA_CREATE_TOPICS=true``), and
the cluster refuses auto-creation, so a typo cannot silently make a topic.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_msk as msk
from constructs import Construct

from fraudstream_aws.config import EnvironmentConfig
from fraudstream_aws.keys import customer_key, log_group
from fraudstream_aws.nag import suppress


class KafkaCluster(Construct):
    """An MSK provisioned cluster and helpers for ARNs scoped to its topics and groups."""

    def __init__(self, scope: Construct, cid: str, *, config: EnvironmentConfig,
                 vpc: ec2.IVpc, security_group: ec2.ISecurityGroup,
                 logs_key: kms.IKey) -> None:
        super().__init__(scope, cid)
        self.key = customer_key(self, "Key", "fraudstream MSK data at rest")
        self.broker_logs = log_group(self, "BrokerLogs", config, logs_key)
        configuration = msk.CfnConfiguration(
            self, "Config",
            name=f"{config.stack_name}-kafka",
            kafka_versions_list=[config.kafka_version],
            server_properties="\n".join([
                "auto.create.topics.enable=false",
                f"default.replication.factor={config.kafka_replication_factor}",
                f"min.insync.replicas={config.kafka_min_insync_replicas}",
                f"offsets.topic.replication.factor={config.kafka_replication_factor}",
                f"transaction.state.log.replication.factor={config.kafka_replication_factor}",
                f"transaction.state.log.min.isr={config.kafka_min_insync_replicas}",
                "unclean.leader.election.enable=false",
                # IAM access control: deny whatever no IAM policy allows.
                "allow.everyone.if.no.acl.found=false",
            ]) + "\n",
        )
        self.cluster_name = f"{config.stack_name}-kafka"
        self.cluster = msk.CfnCluster(
            self, "Cluster",
            cluster_name=self.cluster_name,
            kafka_version=config.kafka_version,
            number_of_broker_nodes=config.kafka_brokers,
            broker_node_group_info=msk.CfnCluster.BrokerNodeGroupInfoProperty(
                instance_type=config.kafka_instance_type,
                client_subnets=vpc.select_subnets(
                    subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
                security_groups=[security_group.security_group_id],
                storage_info=msk.CfnCluster.StorageInfoProperty(
                    ebs_storage_info=msk.CfnCluster.EBSStorageInfoProperty(
                        volume_size=config.kafka_volume_gib)),
                connectivity_info=msk.CfnCluster.ConnectivityInfoProperty(
                    public_access=msk.CfnCluster.PublicAccessProperty(type="DISABLED")),
            ),
            client_authentication=msk.CfnCluster.ClientAuthenticationProperty(
                sasl=msk.CfnCluster.SaslProperty(
                    iam=msk.CfnCluster.IamProperty(enabled=True),
                    scram=msk.CfnCluster.ScramProperty(enabled=False)),
                unauthenticated=msk.CfnCluster.UnauthenticatedProperty(enabled=False),
            ),
            encryption_info=msk.CfnCluster.EncryptionInfoProperty(
                encryption_at_rest=msk.CfnCluster.EncryptionAtRestProperty(
                    data_volume_kms_key_id=self.key.key_arn),
                encryption_in_transit=msk.CfnCluster.EncryptionInTransitProperty(
                    client_broker="TLS", in_cluster=True),
            ),
            configuration_info=msk.CfnCluster.ConfigurationInfoProperty(
                arn=configuration.attr_arn, revision=1),
            enhanced_monitoring=config.kafka_enhanced_monitoring,
            logging_info=msk.CfnCluster.LoggingInfoProperty(
                broker_logs=msk.CfnCluster.BrokerLogsProperty(
                    cloud_watch_logs=msk.CfnCluster.CloudWatchLogsProperty(
                        enabled=True, log_group=self.broker_logs.log_group_name))),
        )
        self.cluster.apply_removal_policy(
            RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY)
        # arn:<p>:kafka:<r>:<a>:cluster/<name>/<uuid> — the uuid scopes topic and group ARNs.
        self._uuid = Fn.select(2, Fn.split("/", self.cluster.attr_arn))

    @property
    def arn(self) -> str:
        """The cluster ARN (``kafka-cluster:Connect`` and cluster-level actions)."""
        return self.cluster.attr_arn

    def _scoped(self, kind: str, name: str) -> str:
        return Fn.join("", [
            f"arn:{Aws.PARTITION}:kafka:{Aws.REGION}:{Aws.ACCOUNT_ID}:{kind}/",
            self.cluster_name, "/", self._uuid, "/", name,
        ])

    def topic_arn(self, topic: str) -> str:
        """The ARN of ``topic`` in this cluster."""
        return self._scoped("topic", topic)

    def group_arn(self, group: str) -> str:
        """The ARN of consumer group ``group`` in this cluster."""
        return self._scoped("group", group)

    def grant(self, role: iam.IRole, *, produce: Sequence[str] = (), consume: Sequence[str] = (),
              create: Sequence[str] = (), groups: Sequence[str] = (),
              transactional_ids: Sequence[str] = ()) -> None:
        """Give ``role`` exactly the Kafka data-plane rights it needs, one statement per kind.

        Produce is idempotent (``acks=all``, idempotence on), hence
        ``WriteDataIdempotently`` on the cluster. ``transactional_ids`` are
        prefixes (``scorer-transactions-``): a transactional producer per input
        partition appends the partition number.
        """
        cluster_actions = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
        if produce:
            cluster_actions.append("kafka-cluster:WriteDataIdempotently")
        role.add_to_principal_policy(iam.PolicyStatement(actions=cluster_actions,
                                                         resources=[self.arn]))
        topic_rights: dict[str, set[str]] = {}
        for topic in produce:
            topic_rights.setdefault(topic, set()).update(
                {"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"})
        for topic in consume:
            topic_rights.setdefault(topic, set()).update(
                {"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"})
        for topic in create:
            topic_rights.setdefault(topic, set()).update(
                {"kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic"})
        by_actions: dict[tuple[str, ...], list[str]] = {}
        for topic, actions in sorted(topic_rights.items()):
            by_actions.setdefault(tuple(sorted(actions)), []).append(self.topic_arn(topic))
        for actions, arns in by_actions.items():
            role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions),
                                                             resources=arns))
        if groups:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
                resources=[self.group_arn(g) for g in groups]))
        if transactional_ids:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["kafka-cluster:DescribeTransactionalId",
                         "kafka-cluster:AlterTransactionalId"],
                resources=[self._scoped("transactional-id", prefix + "*")
                           for prefix in transactional_ids]))
            suppress(role, "AwsSolutions-IAM5",
                     "Transactional ids are <prefix><input partition>: one producer per "
                     "partition, so the ARN ends in '*' after a fixed service prefix, in "
                     "this cluster only.",
                     applies_to=[{"regex": "/^Resource::arn:<AWS::Partition>:kafka:<AWS::Region>:"
                                           "<AWS::AccountId>:transactional-id\\/.*\\*$/g"}],
                     children=True)
