"""The alerts topic: KMS-encrypted SNS, TLS-only, an email subscription like the original's."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from fraudstream_aws.keys import customer_key


class AlertsTopic(Construct):
    """Fraud alerts (notifier) and operational alarms (CloudWatch) share one topic."""

    def __init__(self, scope: Construct, cid: str, *, email: str) -> None:
        super().__init__(scope, cid)
        # CloudWatch alarms publish to the encrypted topic, so they need the key.
        self.key = customer_key(self, "Key", "fraudstream alerts topic", statements=[
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy "*" means this key
            ),
        ])
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True,
                               display_name="fraudstream alerts")
        self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_publish(self, role: iam.IRole) -> None:
        """``sns:Publish`` on this topic and the key use that publishing needs, nothing else."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sns:Publish"], resources=[self.topic.topic_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn]))
