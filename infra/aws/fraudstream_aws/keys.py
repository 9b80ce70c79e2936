"""KMS keys with explicit key policies, and KMS-encrypted log groups.

CDK's default key policy grants ``kms:*`` to the account; these spell the
administrative and usage actions out instead, so no policy in the templates
carries a wildcard action.
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from fraudstream_aws.config import EnvironmentConfig

ACCOUNT_KEY_ACTIONS = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt",
    "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation",
    "kms:EnableKey", "kms:EnableKeyRotation", "kms:Encrypt", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
    "kms:PutKeyPolicy", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant",
    "kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
]
"""What the account (through IAM policies of its principals) may do with each key.

Includes ``PutKeyPolicy`` so the key can never become unmanageable.
"""

RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS, 7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
"""A subset of the values CloudWatch Logs accepts, by days."""


def customer_key(scope: Construct, cid: str, description: str, *,
                 removal: RemovalPolicy = RemovalPolicy.DESTROY,
                 statements: list[iam.PolicyStatement] | None = None) -> kms.Key:
    """A rotating customer-managed key whose policy has no wildcard action."""
    policy = iam.PolicyDocument(statements=[
        iam.PolicyStatement(principals=[iam.AccountRootPrincipal()],
                            actions=ACCOUNT_KEY_ACTIONS, resources=["*"]),
        *(statements or []),
    ])
    return kms.Key(scope, cid, description=description, enable_key_rotation=True,
                   policy=policy, removal_policy=removal)


def logs_key(scope: Construct, cid: str) -> kms.Key:
    """The key CloudWatch Logs encrypts every fraudstream log group with."""
    return customer_key(scope, cid, "fraudstream log groups", statements=[
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                     "kms:GenerateDataKey", "kms:DescribeKey"],
            resources=["*"],  # in a key policy "*" means this key
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"}},
        ),
    ])


def retention(config: EnvironmentConfig) -> logs.RetentionDays:
    """The environment's log retention, rounded up to a value CloudWatch accepts."""
    days = next((d for d in sorted(RETENTION) if d >= config.log_retention_days), 3653)
    return RETENTION[days]


def log_group(scope: Construct, cid: str, config: EnvironmentConfig, key: kms.IKey,
              name: str | None = None) -> logs.LogGroup:
    """A KMS-encrypted log group with the environment's retention."""
    return logs.LogGroup(scope, cid, log_group_name=name, retention=retention(config),
                         encryption_key=key, removal_policy=RemovalPolicy.DESTROY)
