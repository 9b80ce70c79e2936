"""The OpenSearch domain: in the VPC, fine-grained access control, TLS 1.2+, KMS at rest.

Access is IAM only. The domain access policy names the writing services' task
roles (the indexer's and the compliance service's) and an admin role (HTTP verbs
on the domain), and the deploy-time Dashboards import role (GET/POST under
``/_dashboards`` only) — and no ``*``; fine-grained access control's master
user is that admin role. An
internal master user with a password would be useless here: the domain access
policy rejects unsigned (basic-auth) requests before fine-grained access control
sees them, so every client signs with SigV4 (see README, "Reaching the dashboards").
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from fraudstream_aws.config import EnvironmentConfig
from fraudstream_aws.keys import customer_key, log_group
from fraudstream_aws.nag import suppress

TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
"""TLS 1.2 minimum with forward secrecy (newer than Policy-Min-TLS-1-2-2019-07)."""

IMPORT_HTTP_ACTIONS = ["es:ESHttpGet", "es:ESHttpPost"]
"""The Dashboards import reads and posts saved objects under ``/_dashboards`` only."""

INDEXER_HTTP_ACTIONS = [
    "es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut",
]
"""Spelled out rather than ``es:ESHttp*`` so no IAM action anywhere carries a wildcard."""

LOG_TYPES = ("AUDIT_LOGS", "ES_APPLICATION_LOGS", "SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS")


class SearchDomain(Construct):
    """The domain, its log groups and the log-delivery resource policy."""

    def __init__(self, scope: Construct, cid: str, *, config: EnvironmentConfig,
                 vpc: ec2.IVpc, security_group: ec2.ISecurityGroup,
                 writer_roles: Sequence[iam.IRole], import_role: iam.IRole,
                 logs_key: kms.IKey) -> None:
        super().__init__(scope, cid)
        self.domain_name = f"{config.stack_name}-search"
        self.key = customer_key(self, "Key", "fraudstream OpenSearch data at rest")
        # Humans and the dashboards import act through this role; it is the FGAC master.
        self.admin_role = iam.Role(
            self, "AdminRole", assumed_by=iam.AccountRootPrincipal(),
            description="OpenSearch master user (FGAC); assume it to administer the domain",
        )
        log_groups = {
            kind: log_group(self, kind.title().replace("_", ""), config, logs_key)
            for kind in LOG_TYPES
        }
        delivery = logs.CfnResourcePolicy(
            self, "LogDelivery",
            policy_name=f"{config.stack_name}-opensearch-logs",
            policy_document=Stack.of(self).to_json_string({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "es.amazonaws.com"},
                    "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                    "Resource": [g.log_group_arn for g in log_groups.values()],
                    "Condition": {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                }],
            }),
        )
        domain_arn = (f"arn:{Aws.PARTITION}:es:{Aws.REGION}:{Aws.ACCOUNT_ID}:domain/"
                      f"{self.domain_name}")
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids
        dedicated = config.opensearch_master_instance_type is not None
        self.domain = opensearch.CfnDomain(
            self, "Domain",
            domain_name=self.domain_name,
            engine_version=config.opensearch_version,
            cluster_config=opensearch.CfnDomain.ClusterConfigProperty(
                instance_type=config.opensearch_data_instance_type,
                instance_count=config.opensearch_data_nodes,
                zone_awareness_enabled=True,
                zone_awareness_config=opensearch.CfnDomain.ZoneAwarenessConfigProperty(
                    availability_zone_count=2),
                dedicated_master_enabled=dedicated,
                dedicated_master_type=config.opensearch_master_instance_type,
                dedicated_master_count=3 if dedicated else None,
            ),
            ebs_options=opensearch.CfnDomain.EBSOptionsProperty(
                ebs_enabled=True, volume_type="gp3", volume_size=config.opensearch_volume_gib),
            vpc_options=opensearch.CfnDomain.VPCOptionsProperty(
                subnet_ids=subnets, security_group_ids=[security_group.security_group_id]),
            encryption_at_rest_options=opensearch.CfnDomain.EncryptionAtRestOptionsProperty(
                enabled=True, kms_key_id=self.key.key_id),
            node_to_node_encryption_options=opensearch.CfnDomain.NodeToNodeEncryptionOptionsProperty(
                enabled=True),
            domain_endpoint_options=opensearch.CfnDomain.DomainEndpointOptionsProperty(
                enforce_https=True, tls_security_policy=TLS_POLICY),
            advanced_security_options=opensearch.CfnDomain.AdvancedSecurityOptionsInputProperty(
                enabled=True,
                internal_user_database_enabled=False,
                master_user_options=opensearch.CfnDomain.MasterUserOptionsProperty(
                    master_user_arn=self.admin_role.role_arn),
            ),
            log_publishing_options={
                kind: opensearch.CfnDomain.LogPublishingOptionProperty(
                    enabled=True, cloud_watch_logs_log_group_arn=group.log_group_arn)
                for kind, group in log_groups.items()
            },
            software_update_options=opensearch.CfnDomain.SoftwareUpdateOptionsProperty(
                auto_software_update_enabled=True),
            access_policies={
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"AWS": [*(r.role_arn for r in writer_roles),
                                          self.admin_role.role_arn]},
                    "Action": INDEXER_HTTP_ACTIONS,
                    "Resource": f"{domain_arn}/*",
                }, {
                    "Effect": "Allow",
                    "Principal": {"AWS": [import_role.role_arn]},
                    "Action": IMPORT_HTTP_ACTIONS,
                    "Resource": f"{domain_arn}/_dashboards/*",
                }],
            },
        )
        self.domain.add_resource_dependency(delivery)  # log delivery must be allowed first
        self.domain.apply_removal_policy(
            RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY)
        suppress(self.domain, "AwsSolutions-OS3",
                 "Access is limited by IAM principal (writer task roles, admin role) and by "
                 "the VPC security group, not by IP: task IPs change with every deployment.")
        if not dedicated:
            suppress(self.domain, "AwsSolutions-OS4",
                     "Dev sizing: dedicated masters triple the cost of a 2-node test domain; "
                     "prod sets opensearch_master_instance_type (3 dedicated masters).")
        for role in writer_roles:
            self.grant_http(role)
        self.grant_http(self.admin_role)
        self.grant_dashboards_import(import_role)

    @property
    def endpoint_url(self) -> str:
        """``https://<vpc endpoint>`` for ``OPENSEARCH_URL``."""
        return f"https://{self.domain.attr_domain_endpoint}"

    def grant_dashboards_import(self, role: iam.IRole) -> None:
        """Allow ``role`` GET and POST under ``/_dashboards`` of this domain, nothing else."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=IMPORT_HTTP_ACTIONS, resources=[f"{self.domain.attr_arn}/_dashboards/*"]))
        suppress(role, "AwsSolutions-IAM5",
                 "<domain ARN>/_dashboards/* names the Dashboards API paths of this domain "
                 "only (the saved-objects import); nothing outside the domain matches.",
                 applies_to=[{"regex": "/^Resource::<SearchDomain[A-Za-z0-9]*\\.Arn>"
                                       "\\/_dashboards\\/\\*$/g"}],
                 children=True)

    def grant_http(self, role: iam.IRole) -> None:
        """Allow ``role`` the HTTP verbs on this domain's paths only."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=INDEXER_HTTP_ACTIONS, resources=[f"{self.domain.attr_arn}/*"]))
        suppress(role, "AwsSolutions-IAM5",
                 "<domain ARN>/* is how ES HTTP permissions name this domain's own paths "
                 "(indices, _bulk, _dashboards); nothing outside the domain matches.",
                 applies_to=[{"regex": "/^Resource::<SearchDomain[A-Za-z0-9]*\\.Arn>\\/\\*$/g"}],
                 children=True)
