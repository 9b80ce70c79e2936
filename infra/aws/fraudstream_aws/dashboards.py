"""OpenSearch set up at deploy time: fine-grained access control, then the Dashboards objects.

A custom resource backed by a small Python Lambda (``infra/aws/functions/
dashboards_import.py``) in the VPC. On create and on update it first assumes
the domain's admin role (the FGAC master) to give every writing service its
own FGAC role (write on its index patterns only) mapped to its task role, and
to map its own role to ``kibana_user``; then it posts
``services/indexer/indexer/saved_objects/fraudstream.ndjson`` to the domain's
``/_dashboards/api/saved_objects/_import?overwrite=true``, SigV4-signed as
itself. The ndjson's SHA-256 and the writers are properties of the resource, so
a change re-runs it on the next deploy; delete does nothing.

Its role may call ``es:ESHttpGet``/``es:ESHttpPost`` under ``/_dashboards`` of
this domain (granted by :meth:`SearchDomain.grant_dashboards_import`), assume
the admin role (only this function, at deploy time, so no person has to map
roles by hand), write its own log group and manage the network interfaces a
VPC Lambda needs.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Aws, CustomResource, Duration, Stage
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from fraudstream_aws.config import EnvironmentConfig
from fraudstream_aws.keys import log_group
from fraudstream_aws.nag import checkov_skip, suppress
from fraudstream_aws.search import SearchDomain

REPO = Path(__file__).resolve().parents[3]
SAVED_OBJECTS = REPO / "services" / "indexer" / "indexer" / "saved_objects" / "fraudstream.ndjson"
HANDLER = Path(__file__).resolve().parents[1] / "functions" / "dashboards_import.py"

VPC_LAMBDA_ACTIONS = [
    "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
]
"""What AWSLambdaVPCAccessExecutionRole grants, spelled out (no managed policy)."""


def saved_objects_hash(path: Path = SAVED_OBJECTS) -> str:
    """SHA-256 of the ndjson: a property of the custom resource, so a change re-imports."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_role(scope: Construct, cid: str) -> iam.Role:
    """The function's role; created before the domain, whose access policy names it."""
    return iam.Role(scope, cid, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description="fraudstream: deploy-time import of the Dashboards saved objects")


class DashboardsImport(Construct):
    """The import function, its log group and the custom resource that runs it."""

    def __init__(self, scope: Construct, cid: str, *, config: EnvironmentConfig,
                 vpc: ec2.IVpc, security_group: ec2.ISecurityGroup, search: SearchDomain,
                 role: iam.Role, logs_key: kms.IKey,
                 writers: Mapping[str, tuple[iam.IRole, list[str]]]) -> None:
        """``writers``: service name → (its task role, the index patterns it writes)."""
        super().__init__(scope, cid)
        logs = log_group(self, "Logs", config, logs_key)
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[logs.log_group_arn]))
        # Acting as the FGAC master is what lets the deployment map roles itself.
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sts:AssumeRole"], resources=[search.admin_role.role_arn]))
        # AWS requires Resource "*" for these: the ENI ids do not exist before Lambda makes them.
        role.add_to_principal_policy(iam.PolicyStatement(actions=VPC_LAMBDA_ACTIONS,
                                                         resources=["*"]))
        self.function = lambda_.Function(
            self, "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="dashboards_import.handler",
            code=lambda_.Code.from_asset(str(self._stage_code())),
            role=role,
            timeout=Duration.minutes(5),
            memory_size=256,
            reserved_concurrent_executions=1,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[security_group],
            log_group=logs,
            description="Imports the fraudstream Dashboards saved objects (custom resource)",
        )
        self.function.node.add_dependency(role)  # its policy, before CloudFormation invokes it
        self.resource = CustomResource(
            self, "Import", service_token=self.function.function_arn,
            resource_type="Custom::DashboardsImport",
            properties={"Endpoint": search.domain.attr_domain_endpoint, "Region": Aws.REGION,
                        "SavedObjectsSha256": saved_objects_hash(),
                        "AdminRoleArn": search.admin_role.role_arn,
                        "ImportRoleArn": role.role_arn,
                        "Writers": [{"Name": name, "RoleArn": writer.role_arn,
                                     "IndexPatterns": patterns}
                                    for name, (writer, patterns) in sorted(writers.items())]},
        )
        # The function must reach the domain: its ingress rule exists before the import runs.
        self.resource.node.add_dependency(security_group)
        self._document(role)

    def _stage_code(self) -> Path:
        """The handler and the ndjson in one folder of the cloud assembly (the Lambda asset)."""
        staging = Path(Stage.of(self).outdir) / "dashboards-import-src"
        staging.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HANDLER, staging / HANDLER.name)
        shutil.copyfile(SAVED_OBJECTS, staging / SAVED_OBJECTS.name)
        return staging

    def _document(self, role: iam.Role) -> None:
        suppress(role, "AwsSolutions-IAM5",
                 "A VPC Lambda's network-interface actions (ec2:CreateNetworkInterface, "
                 "DescribeNetworkInterfaces, ...) take Resource '*': the interfaces do not "
                 "exist before Lambda creates them (the AWSLambdaVPCAccessExecutionRole set).",
                 applies_to=["Resource::*"], children=True)
        suppress(self.function, "AwsSolutions-L1",
                 "Pinned to Python 3.12 on purpose: the handler (stdlib + the runtime's "
                 "botocore) is reviewed and tested against it; bump it deliberately.")
        checkov_skip(role.node.find_child("DefaultPolicy"), "CKV_AWS_111",
                     "Only the VPC Lambda network-interface actions have Resource '*' "
                     "(AWS requires it); every other action names its resource.")
        checkov_skip(self.function, "CKV_AWS_116",
                     "CloudFormation custom resource: a failure is reported to the stack, "
                     "which rolls back; a dead-letter queue would hold nothing to replay.")
