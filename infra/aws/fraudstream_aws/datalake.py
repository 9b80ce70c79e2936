"""The data-lake bucket: KMS, versioned, TLS-only, no public access, tiered, access-logged."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from fraudstream_aws.config import EnvironmentConfig
from fraudstream_aws.keys import customer_key
from fraudstream_aws.nag import checkov_skip, suppress


class DataLake(Construct):
    """A bucket for decision archives (the original's S3 sink target), plus its access-log bucket.

    The archiver writes its Parquet under ``lake/`` (``reporting.grant_archiver``:
    that prefix only); Athena's encrypted results go under ``athena-results/``.
    """

    def __init__(self, scope: Construct, cid: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, cid)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        auto_delete = False  # auto-delete needs a Lambda custom resource; empty buckets by hand
        self.access_logs = s3.Bucket(
            self, "AccessLogs",
            # Server access logs can only be delivered to an SSE-S3 bucket, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(
                expiration=Duration.days(config.log_retention_days),
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=Duration.days(1))],
            removal_policy=removal, auto_delete_objects=auto_delete,
        )
        reason = "This bucket is the access-log destination; logging it would log itself."
        suppress(self.access_logs, "AwsSolutions-S1", reason)
        checkov_skip(self.access_logs, "CKV_AWS_18", reason)
        self.key = customer_key(self, "Key", "fraudstream data lake", removal=removal)
        self.bucket = s3.Bucket(
            self, "Bucket",
            encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-lake/",
            lifecycle_rules=[s3.LifecycleRule(
                id="tiering",
                transitions=[
                    s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                  transition_after=Duration.days(config.data_lake_transition_days)),
                    s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                                  transition_after=Duration.days(
                                      config.data_lake_transition_days + 60)),
                ],
                expiration=Duration.days(config.data_lake_expiration_days),
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )],
            removal_policy=removal, auto_delete_objects=auto_delete,
        )
