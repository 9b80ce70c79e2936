"""The reporting construct: Glue tables with partition projection, an encrypted Athena
workgroup, named queries from the archiver's own .sql files, and the archiver's grant."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="AWS CDK not installed (see infra/aws/README.md)")

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from tests.unit.test_infra_aws.conftest import INFRA, REPO, resources

if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

from fraudstream_aws.reporting import Reporting, grant_archiver

ARCHIVER = REPO / "services" / "archiver" / "archiver"
SQL_FILES = sorted((ARCHIVER / "report" / "sql").glob("*.sql"))
PREFIX = "lake/"


def build(outdir: Path, *, nag: bool = False) -> tuple[dict[str, Any], cdk.Stack]:
    """A stack holding only a lake bucket, its key, a role, the construct and the grant."""
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "ReportingTest", env=cdk.Environment(account="111111111111",
                                                                 region="eu-west-1"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Lake", encryption=s3.BucketEncryption.KMS, encryption_key=key,
                       enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
    role = iam.Role(stack, "ArchiverRole",
                    assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    analyst = iam.Role(stack, "AnalystRole", assumed_by=iam.AccountRootPrincipal())
    reporting = Reporting(stack, "Reporting", bucket=bucket, key=key, prefix=PREFIX,
                          database_name="fraudstream_test", workgroup_name="fraudstream-test")
    reporting.grant_query(analyst)
    grant_archiver(role, bucket, key, PREFIX)
    if nag:
        cdk.Aspects.of(app).add(AwsSolutionsChecks())
    template = app.synth().get_stack_by_name("ReportingTest").template
    return template, stack


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build(tmp_path_factory.mktemp("reporting"))[0]


def props(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources(template, kind).values()]


def test_one_table_per_lake_table_with_the_archivers_columns(template: dict[str, Any]) -> None:
    expected = json.loads((ARCHIVER / "glue_tables.json").read_text())
    tables = {t["TableInput"]["Name"]: t["TableInput"] for t in props(template, "AWS::Glue::Table")}
    assert set(tables) == set(expected) == {"decisions", "labels"}
    for name, table in tables.items():
        columns = [[c["Name"], c["Type"]] for c in table["StorageDescriptor"]["Columns"]]
        assert columns == expected[name]
        assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith(
            "ParquetHiveSerDe")
        assert [k["Name"] for k in table["PartitionKeys"]] == ["dt", "hour"]
        assert all(t["DatabaseName"] == "fraudstream_test"
                   for t in props(template, "AWS::Glue::Table"))


def test_partitions_are_projected_over_the_archivers_layout(template: dict[str, Any]) -> None:
    for table in props(template, "AWS::Glue::Table"):
        name, params = table["TableInput"]["Name"], table["TableInput"]["Parameters"]
        assert params["projection.enabled"] == "true"
        assert params["projection.dt.type"] == "date"
        assert params["projection.dt.format"] == "yyyy-MM-dd"
        assert params["projection.hour.range"] == "0,23"
        assert params["projection.hour.digits"] == "2"
        location = json.dumps(params["storage.location.template"])
        # s3://<bucket>/lake/<table>/dt=${dt}/hour=${hour}/ — the archiver's partition_path.
        assert f"/{PREFIX}{name}/dt=${{dt}}/hour=${{hour}}/" in location


def test_workgroup_enforces_kms_encrypted_results(template: dict[str, Any]) -> None:
    (workgroup,) = props(template, "AWS::Athena::WorkGroup")
    config = workgroup["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    encryption = config["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption["EncryptionOption"] == "SSE_KMS"
    assert "Key" in json.dumps(encryption["KmsKey"])
    assert "athena-results/" in json.dumps(config["ResultConfiguration"]["OutputLocation"])
    assert config["BytesScannedCutoffPerQuery"] > 0


def test_named_queries_are_the_report_sql_files_verbatim(template: dict[str, Any]) -> None:
    queries = {q["Name"]: q for q in props(template, "AWS::Athena::NamedQuery")}
    assert SQL_FILES, "the archiver's report SQL is missing"
    assert set(queries) == {f"fraudstream-{path.stem}" for path in SQL_FILES}
    for path in SQL_FILES:
        query = queries[f"fraudstream-{path.stem}"]
        assert query["QueryString"] == path.read_text().strip()
        assert query["Database"] == "fraudstream_test"
        assert query["WorkGroup"] == "fraudstream-test"


def statements(template: dict[str, Any], role_fragment: str) -> list[dict[str, Any]]:
    found = []
    for policy in props(template, "AWS::IAM::Policy"):
        if any(role_fragment in json.dumps(r) for r in policy["Roles"]):
            found += policy["PolicyDocument"]["Statement"]
    return found


def test_archiver_grant_is_limited_to_the_lake_prefix(template: dict[str, Any]) -> None:
    granted = statements(template, "ArchiverRole")
    assert granted
    for statement in granted:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]
        assert not any("*" in action for action in actions)
        text = json.dumps(statement["Resource"])
        if any(a.startswith("s3:") and a != "s3:ListBucket" for a in actions):
            assert f"/{PREFIX}*" in text
        if "s3:ListBucket" in actions:
            assert statement["Condition"] == {"StringLike": {"s3:prefix": [f"{PREFIX}*"]}}
    assert {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket",
            "kms:GenerateDataKey", "kms:Decrypt"} <= {
        a for s in granted for a in (s["Action"] if isinstance(s["Action"], list)
                                     else [s["Action"]])}


def test_cdk_nag_finds_nothing_in_the_construct_and_grants(tmp_path: Path) -> None:
    _template, stack = build(tmp_path, nag=True)
    findings = [
        (child.node.path, m.data) for child in stack.node.find_all() for m in child.node.metadata
        if m.type in ("aws:cdk:error", "aws:cdk:warning")
        # The test's own bare bucket is not under test (the real one is DataLake's).
        and not child.node.path.startswith("ReportingTest/Lake/")
    ]
    assert findings == []
