"""cdk-nag suppressions, each with the written reason the reviewers asked for.

Suppressions are attached to the single resource they concern, never to a
whole stack, so a new resource still gets every check.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from cdk_nag import NagSuppressions
from constructs import IConstruct


def suppress(construct: IConstruct, rule: str, reason: str, *,
             applies_to: list[str | dict[str, str]] | None = None,
             children: bool = False) -> None:
    """Suppress cdk-nag ``rule`` on ``construct`` (and its children if asked) with ``reason``."""
    entry: dict[str, object] = {"id": rule, "reason": reason}
    if applies_to:
        entry["appliesTo"] = applies_to
    NagSuppressions.add_resource_suppressions(construct, [entry], apply_to_children=children)


def checkov_skip(construct: IConstruct, check: str, reason: str) -> None:
    """Record a checkov skip in the resource's ``Metadata`` (checkov reads it there)."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no CFN resource"
    existing = resource.get_metadata("checkov") or {"skip": []}
    existing["skip"].append({"id": check, "comment": reason})
    resource.add_metadata("checkov", existing)
