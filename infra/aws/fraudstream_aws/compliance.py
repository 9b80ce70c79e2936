"""The compliance service's AWS resources: the document bucket, its prefixes and the upload queue.

Uploads land under ``uploads/``; S3 sends an object-created notification for
each into an SQS queue encrypted with the given KMS key; the service reads the
queue, writes the document to ``pii/``, ``clean/`` or ``rejected/`` (SSE-KMS)
and deletes the upload. A message that fails ``max_receive_count`` times moves
to the dead-letter queue, which has an alarm. The ECS service is wired by the
stack: this construct only offers :meth:`ComplianceDocuments.grant_service`
and :meth:`ComplianceDocuments.environment`.
"""

from __future__ import annotations

import jsii
from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from fraudstream_aws.nag import suppress

DEFAULT_PREFIXES = {
    "upload": "uploads/",
    "pii": "pii/",
    "clean": "clean/",
    "rejected": "rejected/",
    "redacted": "redacted/",
}
"""The service's defaults (``COMPLIANCE_<NAME>_PREFIX``)."""

VISIBILITY_TIMEOUT = Duration.minutes(5)
"""Longer than the slowest document (500 pages) takes, so no message is handled twice at once."""


@jsii.implements(s3.IBucketNotificationDestination)
class _QueueDestination:
    """Like ``aws_s3_notifications.SqsDestination``, without a key → bucket reference.

    SqsDestination conditions the key-policy statement for S3 on the bucket's
    ARN; with the bucket encrypted by the same key that is a dependency cycle
    (key → bucket → key). The queue policy keeps the bucket condition; the key
    policy is conditioned on the account instead.
    """

    def __init__(self, queue: sqs.Queue, key: kms.IKey) -> None:
        self.queue = queue
        self.key = key

    def bind(self, scope: Construct, bucket: s3.IBucket) -> s3.BucketNotificationDestinationConfig:
        s3_service = iam.ServicePrincipal("s3.amazonaws.com")
        added = self.queue.add_to_resource_policy(iam.PolicyStatement(
            principals=[s3_service], actions=["sqs:SendMessage", "sqs:GetQueueAttributes",
                                              "sqs:GetQueueUrl"],
            resources=[self.queue.queue_arn],
            conditions={"ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        ))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[s3_service], actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=["*"], conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        ), allow_no_op=True)
        # The notification is only valid once S3 may send: wait for the queue policy.
        dependable = added.policy_dependable
        return s3.BucketNotificationDestinationConfig(
            arn=self.queue.queue_arn, type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=[dependable] if dependable is not None else None,
        )


class ComplianceDocuments(Construct):
    """The document bucket (given or created), the notified upload queue and its DLQ.

    ``key`` encrypts the queues and, when the bucket is created here, the
    bucket; S3 is allowed to use it for the notifications it sends.
    """

    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        key: kms.IKey,
        bucket: s3.IBucket | None = None,
        access_logs: s3.IBucket | None = None,
        prefixes: dict[str, str] | None = None,
        max_receive_count: int = 5,
        rejected_retention_days: int = 90,
        removal: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, cid)
        self.key = key
        self.prefixes = {**DEFAULT_PREFIXES, **(prefixes or {})}
        if bucket is None:
            bucket = s3.Bucket(
                self, "Bucket",
                encryption=s3.BucketEncryption.KMS, encryption_key=key,
                bucket_key_enabled=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True, versioned=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix="compliance/" if access_logs else None,
                lifecycle_rules=[
                    # An upload is deleted once routed; one still here after a week failed
                    # for good and its message is in the DLQ, where an operator looks first.
                    s3.LifecycleRule(id="stale-uploads", prefix=self.prefixes["upload"],
                                     expiration=Duration.days(30)),
                    s3.LifecycleRule(id="rejected", prefix=self.prefixes["rejected"],
                                     expiration=Duration.days(rejected_retention_days)),
                    s3.LifecycleRule(id="versions", noncurrent_version_expiration=Duration.days(30),
                                     abort_incomplete_multipart_upload_after=Duration.days(1)),
                ],
                removal_policy=removal,
            )
        self.bucket = bucket
        self.dead_letters = sqs.Queue(
            self, "DeadLetters",
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
            data_key_reuse=Duration.hours(1), enforce_ssl=True,
            retention_period=Duration.days(14), removal_policy=removal,
        )
        self.queue = sqs.Queue(
            self, "Uploads",
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
            data_key_reuse=Duration.hours(1), enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT, retention_period=Duration.days(4),
            receive_message_wait_time=Duration.seconds(20),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters,
                                                  max_receive_count=max_receive_count),
            removal_policy=removal,
        )
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, _QueueDestination(self.queue, key),
            s3.NotificationKeyFilter(prefix=self.prefixes["upload"]),
        )
        self.dead_letter_alarm = cloudwatch.Alarm(
            self, "DeadLettersAlarm",
            alarm_description="Compliance: an upload notification failed repeatedly and waits "
            "in the dead-letter queue (its object is still under the upload prefix).",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"),
            threshold=0, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def grant_service(self, role: iam.IRole) -> None:
        """What the compliance task role needs, with explicit actions and nothing broader.

        Get and delete uploads (a copy of a too-large one is a Get of its
        source); put the routed, rejected and redacted copies; list the bucket
        (``HeadBucket`` for readiness, and a missing key must read as 404 not
        403, since a redelivered notification finds its upload gone); consume
        the queue; data keys and decryption with the key (SSE-KMS, SQS).
        """
        p = self.prefixes
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject", "s3:DeleteObject"],
            resources=[self.bucket.arn_for_objects(f"{p['upload']}*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:PutObject"],
            resources=[self.bucket.arn_for_objects(f"{p[name]}*")
                       for name in ("pii", "clean", "rejected", "redacted")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                     "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            resources=[self.queue.queue_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]))
        suppress(role, "AwsSolutions-IAM5",
                 "The compliance service reads and deletes uploads under the upload prefix and "
                 "writes documents named by their ids under the destination prefixes, so each "
                 "object ARN ends in '<prefix>*'.",
                 applies_to=[{"regex": "/^Resource::<.*Arn>\\/.*\\*$/g"}], children=True)

    def environment(self, region: str) -> dict[str, str]:
        """The compliance service's environment for this bucket and queue."""
        p = self.prefixes
        return {
            "COMPLIANCE_STORAGE": "s3",
            "COMPLIANCE_S3_BUCKET": self.bucket.bucket_name,
            "COMPLIANCE_KMS_KEY_ID": self.key.key_arn,
            "COMPLIANCE_SQS_QUEUE_URL": self.queue.queue_url,
            "COMPLIANCE_UPLOAD_PREFIX": p["upload"],
            "COMPLIANCE_PII_PREFIX": p["pii"],
            "COMPLIANCE_CLEAN_PREFIX": p["clean"],
            "COMPLIANCE_REJECTED_PREFIX": p["rejected"],
            "COMPLIANCE_REDACTED_PREFIX": p["redacted"],
            "AWS_REGION": region,
        }
