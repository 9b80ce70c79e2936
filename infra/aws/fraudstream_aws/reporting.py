"""SQL over the data lake: Glue tables, an encrypted Athena workgroup, named queries.

The tables use partition projection on ``dt``/``hour`` (no crawler to schedule
or forget: a new hour's folder is queryable the moment the archiver writes
it). Their columns and the named queries are read from the archiver's own
files — ``glue_tables.json`` (checked against its Arrow schemas by a unit
test) and ``report/sql/*.sql``, the very queries ``make report`` runs with
DuckDB — so the lake, the local report and Athena cannot drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from fraudstream_aws.nag import suppress

ARCHIVER = Path(__file__).resolve().parents[3] / "services" / "archiver" / "archiver"
TABLES_FILE = ARCHIVER / "glue_tables.json"
SQL_DIR = ARCHIVER / "report" / "sql"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


@dataclass(frozen=True)
class NamedQuery:
    """One ``.sql`` file: its name, title (``-- title:`` line) and text."""

    name: str
    title: str
    sql: str


def load_named_queries(directory: Path = SQL_DIR) -> list[NamedQuery]:
    """Every report query, in file-name order."""
    queries = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text().strip()
        match = re.search(r"^-- title:\s*(.+)$", text, flags=re.MULTILINE)
        queries.append(NamedQuery(path.stem, match.group(1).strip() if match else path.stem, text))
    return queries


def load_tables(path: Path = TABLES_FILE) -> dict[str, list[tuple[str, str]]]:
    """Table name → (column, Glue type) pairs, as the archiver writes them."""
    raw: dict[str, list[list[str]]] = json.loads(path.read_text())
    return {table: [(name, kind) for name, kind in columns] for table, columns in raw.items()}


def projection_parameters(location: str, start_date: str) -> dict[str, str]:
    """Table parameters for partition projection over ``dt=YYYY-MM-DD/hour=HH``."""
    return {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{start_date},NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
        "storage.location.template": location + "dt=${dt}/hour=${hour}/",
    }


class Reporting(Construct):
    """Glue database and tables over ``s3://<bucket>/<prefix>``, an Athena workgroup whose
    results are KMS-encrypted under ``<results_prefix>``, and one named query per report.

    ``bucket`` and ``key`` are the data lake's bucket and its KMS key;
    :meth:`grant_query` gives an analyst role what running the queries takes.
    """

    def __init__(self, scope: Construct, cid: str, *, bucket: s3.IBucket, key: kms.IKey,
                 prefix: str = "lake/", results_prefix: str = "athena-results/",
                 database_name: str = "fraudstream", workgroup_name: str = "fraudstream",
                 start_date: str = "2025-01-01", bytes_scanned_cutoff: int = 10 * 1024**3,
                 ) -> None:
        super().__init__(scope, cid)
        self.bucket, self.key, self.prefix = bucket, key, prefix
        self.results_prefix = results_prefix
        self.database_name, self.workgroup_name = database_name, workgroup_name
        self.database = glue.CfnDatabase(
            self, "Database", catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name,
                description="fraudstream data lake: decisions and labels archived as Parquet"))
        self.tables: dict[str, glue.CfnTable] = {}
        for table, columns in load_tables().items():
            location = f"s3://{bucket.bucket_name}/{prefix}{table}/"
            cfn_table = glue.CfnTable(
                self, f"Table{table.capitalize()}", catalog_id=Aws.ACCOUNT_ID,
                database_name=database_name,
                table_input=glue.CfnTable.TableInputProperty(
                    name=table, table_type="EXTERNAL_TABLE",
                    description=f"fraudstream {table} (archiver), partitioned by dt/hour",
                    parameters=projection_parameters(location, start_date),
                    partition_keys=[glue.CfnTable.ColumnProperty(name="dt", type="string"),
                                    glue.CfnTable.ColumnProperty(name="hour", type="string")],
                    storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                        location=location, input_format=PARQUET_INPUT,
                        output_format=PARQUET_OUTPUT, compressed=True,
                        serde_info=glue.CfnTable.SerdeInfoProperty(
                            serialization_library=PARQUET_SERDE),
                        columns=[glue.CfnTable.ColumnProperty(name=name, type=kind)
                                 for name, kind in columns])))
            cfn_table.node.add_dependency(self.database)
            self.tables[table] = cfn_table
        self.workgroup = athena.CfnWorkGroup(
            self, "WorkGroup", name=workgroup_name, state="ENABLED",
            description="fraudstream reports over the data lake",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                # Users cannot send results elsewhere or unencrypted.
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket.bucket_name}/{results_prefix}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key.key_arn))))
        self.queries: dict[str, athena.CfnNamedQuery] = {}
        for query in load_named_queries():
            named = athena.CfnNamedQuery(
                self, "Query" + "".join(part.capitalize() for part in query.name.split("_")),
                name=f"fraudstream-{query.name}", description=query.title[:1024],
                database=database_name, work_group=workgroup_name, query_string=query.sql)
            named.node.add_dependency(self.workgroup)
            named.node.add_dependency(self.database)
            self.queries[query.name] = named

    def grant_query(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` run the named queries in the workgroup and read their results."""
        arn = f"arn:{Aws.PARTITION}"
        workgroup = f"{arn}:athena:{Aws.REGION}:{Aws.ACCOUNT_ID}:workgroup/{self.workgroup_name}"
        glue_resources = [
            f"{arn}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:catalog",
            f"{arn}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:database/{self.database_name}",
            f"{arn}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:table/{self.database_name}/*",
        ]
        principal = grantee.grant_principal
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["athena:StartQueryExecution", "athena:StopQueryExecution",
                     "athena:GetQueryExecution", "athena:GetQueryResults",
                     "athena:GetWorkGroup", "athena:ListNamedQueries", "athena:GetNamedQuery",
                     "athena:BatchGetNamedQuery"],
            resources=[workgroup]))
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables",
                     "glue:GetPartition", "glue:GetPartitions"],
            resources=glue_resources))
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[self.bucket.arn_for_objects(f"{self.prefix}*")]))
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[self.bucket.arn_for_objects(f"{self.results_prefix}*")]))
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{self.prefix}*",
                                                     f"{self.results_prefix}*"]}}))
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]))
        suppress(grantee, "AwsSolutions-IAM5",
                 "Queries read every object under the lake prefix and write results under "
                 "the results prefix; Glue tables are those of this database only.",
                 applies_to=[{"regex": "/^Resource::<.*Arn>\\/.*\\*$/g"},
                             {"regex": "/^Resource::arn:<AWS::Partition>:glue:.*\\/\\*$/g"}],
                 children=True)


def grant_archiver(role: iam.IRole, bucket: s3.IBucket, key: kms.IKey,
                   prefix: str = "lake/") -> None:
    """What the archiver's task role needs, limited to the lake's prefix.

    Put/Get/Delete of objects under ``prefix`` (files and in-flight markers),
    ListBucket only for keys under ``prefix`` (the archiver lists before it
    reads, since a missing key is a 403 without a listing right), and the
    bucket key's data-key and decrypt permissions (SSE-KMS).
    """
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
        resources=[bucket.arn_for_objects(f"{prefix}*")]))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]))
    suppress(role, "AwsSolutions-IAM5",
             "The archiver writes, reads and deletes objects under the lake prefix only: "
             "file names are made of topic, partition and offsets, so the ARN ends in '*'.",
             applies_to=[{"regex": "/^Resource::<.*Arn>\\/.*\\*$/g"}], children=True)
