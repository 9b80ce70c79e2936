"""The VPC, its endpoints and one security group per component."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from fraudstream_aws.config import SERVICES, EnvironmentConfig
from fraudstream_aws.keys import log_group

KAFKA_IAM_TLS_PORT = 9098
"""MSK's port for IAM-authenticated TLS clients (the only listener we enable)."""
HTTPS = 443


SEARCH_WRITERS = ("indexer", "compliance")
"""The services that write to OpenSearch (and so may reach it)."""

class Network(Construct):
    """Two AZs: public (NAT only), private with egress (tasks), isolated (MSK, OpenSearch).

    Interface endpoints let the tasks pull images, write logs and metrics, read
    secrets and publish to SNS without the NAT; the NAT stays for AWS APIs without an
    endpoint here and for the optional scorer backends.
    """

    def __init__(self, scope: Construct, cid: str, *, config: EnvironmentConfig,
                 logs_key: kms.IKey) -> None:
        super().__init__(scope, cid)
        self.vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            max_azs=2,
            nat_gateways=config.nat_gateways,
            # Nothing uses the default group; restricting it would need a Lambda custom resource.
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC,
                                        cidr_mask=24, map_public_ip_on_launch=False),
                ec2.SubnetConfiguration(name="tasks", cidr_mask=22,
                                        subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                ec2.SubnetConfiguration(name="data", cidr_mask=24,
                                        subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            ],
        )
        flow_logs = log_group(self, "FlowLogs", config, logs_key)
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(
            flow_logs), traffic_type=ec2.FlowLogTrafficType.REJECT)

        # One group per component, no egress by default: each rule below is a need.
        self.service_groups: dict[str, ec2.SecurityGroup] = {
            svc: self._group(f"{svc.capitalize()}Sg", f"fraudstream {svc} tasks")
            for svc in SERVICES
        }
        self.kafka_group = self._group("KafkaSg", "MSK brokers")
        self.search_group = self._group("SearchSg", "OpenSearch domain")
        self.endpoint_group = self._group("EndpointSg", "interface VPC endpoints")
        for svc, group in self.service_groups.items():
            self.kafka_group.add_ingress_rule(group, ec2.Port.tcp(KAFKA_IAM_TLS_PORT),
                                              f"{svc} to Kafka (IAM, TLS)")
            group.add_egress_rule(self.kafka_group, ec2.Port.tcp(KAFKA_IAM_TLS_PORT), "Kafka")
            self.endpoint_group.add_ingress_rule(group, ec2.Port.tcp(HTTPS), f"{svc} to endpoints")
            # HTTPS out: the interface endpoints, and S3 (image layers) through the gateway
            # endpoint, whose prefix list id is region-specific and unknown at synth time.
            group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS),
                                  "AWS APIs via VPC endpoints and the S3 gateway")
        for writer in SEARCH_WRITERS:
            self.search_group.add_ingress_rule(self.service_groups[writer], ec2.Port.tcp(HTTPS),
                                               f"{writer} to OpenSearch")
        # The deploy-time Dashboards import (a Lambda in the VPC): OpenSearch, and HTTPS out
        # for CloudFormation's pre-signed S3 response URL (S3 gateway endpoint or NAT).
        self.dashboards_import_group = self._group("DashboardsImportSg",
                                                   "deploy-time Dashboards import function")
        self.search_group.add_ingress_rule(self.dashboards_import_group, ec2.Port.tcp(HTTPS),
                                           "Dashboards import to OpenSearch")
        self.dashboards_import_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS),
            "OpenSearch and the CloudFormation response URL (S3)")

        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        for name, service in (
            ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDkr", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
            # The consumers publish their lag metric (PutMetricData) every minute.
            ("Monitoring", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING),
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("Sns", ec2.InterfaceVpcEndpointAwsService.SNS),
            ("Sts", ec2.InterfaceVpcEndpointAwsService.STS),
            # The compliance service long-polls its S3 notification queue.
            ("Sqs", ec2.InterfaceVpcEndpointAwsService.SQS),
        ):
            self.vpc.add_interface_endpoint(
                name, service=service, security_groups=[self.endpoint_group], open=False,
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            )

    def _group(self, cid: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(self, cid, vpc=self.vpc, description=description,
                                 allow_all_outbound=False)
