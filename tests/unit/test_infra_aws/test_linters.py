"""cfn-lint and checkov accept the synthesized templates (skips must be justified in place)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("aws_cdk", reason="AWS CDK not installed (see infra/aws/README.md)")

from tests.unit.test_infra_aws.conftest import Synthesized


def tool(name: str) -> str:
    """The tool next to this interpreter (its venv) or on PATH; skip when it is absent."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install {name}, see infra/aws/README.md)")
    return found


def template_files(synthesized: Synthesized) -> list[Path]:
    return [synthesized.outdir / s.template_file for s in synthesized.stacks.values()]


def test_cfn_lint_finds_no_errors(synthesized: Synthesized) -> None:
    result = subprocess.run(
        [tool("cfn-lint"), "--format", "json", *map(str, template_files(synthesized))],
        capture_output=True, text=True, timeout=240, check=False,
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], errors


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_checkov_has_no_failed_checks(synthesized: Synthesized, env: str) -> None:
    path = synthesized.outdir / synthesized.stacks[env].template_file
    result = subprocess.run(
        [tool("checkov"), "-f", str(path), "--framework", "cloudformation",
         "--skip-download", "--output", "json"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == [], failed
    assert report["summary"]["passed"] > 200
