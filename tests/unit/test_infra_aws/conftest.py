"""Synthesize the AWS app once per session; every infra test reads these templates.

The CDK toolchain (aws-cdk-lib, cdk-nag, Node.js) is not part of the service
workspace: the test modules skip themselves when ``aws_cdk`` is not importable.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / "infra" / "aws"
ENVIRONMENTS = ("dev", "prod")

# jsii prints a banner on every start when Node is older than it likes; it is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@dataclass
class Synthesized:
    """One synthesized app: its stacks, their templates (as dicts) and the output folder."""

    stacks: dict[str, Any]
    templates: dict[str, dict[str, Any]]
    outdir: Path


def synthesize(outdir: Path, names: list[str] | None = None,
               context: dict[str, Any] | None = None) -> Synthesized:
    """Build the real app (``infra/aws/app.py``) into ``outdir`` and return its templates."""
    import aws_cdk as cdk

    if str(INFRA) not in sys.path:
        sys.path.insert(0, str(INFRA))
    from app import build_app

    app = cdk.App(outdir=str(outdir), context=context or {})
    stacks = build_app(app, names)
    assembly = app.synth()
    templates = {name: assembly.get_stack_by_name(stack.stack_name).template
                 for name, stack in stacks.items()}
    return Synthesized(stacks, templates, outdir)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Both example environments, synthesized once."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """The dev stack with each remote scorer backend selected through context."""
    return {
        backend: synthesize(tmp_path_factory.mktemp(backend), ["dev"], {
            "fraudstream:dev:scorer_backend": backend,
            "fraudstream:dev:fraud_detector_name": "my_detector",
            "fraudstream:dev:sagemaker_endpoint_name": "my-endpoint",
        })
        for backend in ("frauddetector", "sagemaker")
    }


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def template(request: pytest.FixtureRequest, synthesized: Synthesized) -> dict[str, Any]:
    """Each environment's template in turn."""
    return synthesized.templates[request.param]


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The template's resources of CloudFormation type ``kind``, by logical id."""
    return {rid: r for rid, r in template["Resources"].items() if r["Type"] == kind}


def one(template: dict[str, Any], kind: str) -> dict[str, Any]:
    """The properties of the only resource of type ``kind``."""
    found = resources(template, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.values()))["Properties"]
