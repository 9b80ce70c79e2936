"""The CDK app: one stack per environment, cdk-nag AwsSolutions checks on all of them.

    python app.py                             # make synth: both environments into cdk.out/
    npx aws-cdk@2 synth -c env=dev
    npx aws-cdk@2 deploy fraudstream-dev --parameters YourEmail=you@example.com
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fraudstream_aws.config import ENVIRONMENTS, resolve
from fraudstream_aws.stack import FraudstreamStack

FEATURE_FLAGS = {
    # Access-log delivery through a bucket policy, not the legacy LogDeliveryWrite ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
}
"""Set here rather than only in cdk.json so tests synthesize exactly what deploys."""


def build_app(app: cdk.App, names: list[str] | None = None) -> dict[str, FraudstreamStack]:
    """Add a stack per environment in ``names`` (all by default) and the nag checks."""
    for flag, value in FEATURE_FLAGS.items():
        if app.node.try_get_context(flag) is None:
            app.node.set_context(flag, value)
    context = dict(app.node.try_get_context("fraudstream") or {})
    flat = {k: app.node.try_get_context(k) for k in _context_keys(app)}
    context.update({k: v for k, v in flat.items() if v is not None})
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
                          region=os.environ.get("CDK_DEFAULT_REGION"))
    stacks = {}
    for name in names or list(ENVIRONMENTS):
        config = resolve(name, context)
        stacks[name] = FraudstreamStack(app, config.stack_name, config=config, env=env)
        cdk.Tags.of(stacks[name]).add("project", "fraudstream")
        cdk.Tags.of(stacks[name]).add("environment", name)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return stacks


def _context_keys(app: cdk.App) -> list[str]:
    return [f"fraudstream:{env}:{field}" for env in ENVIRONMENTS
            for field in ENVIRONMENTS[env].__dataclass_fields__]


def main() -> None:
    """Synthesize the environment named by ``-c env=…`` (or all of them)."""
    # The CDK CLI passes CDK_OUTDIR; plain `python app.py` (make synth) writes ./cdk.out.
    app = cdk.App(outdir=None if "CDK_OUTDIR" in os.environ else "cdk.out")
    only = app.node.try_get_context("env")
    build_app(app, [only] if only else None)
    app.synth()


if __name__ == "__main__":
    main()
