"""EksAccess: EKS access entries for the tenants' IAM principals (authentication mode API).

Which principals get an entry and which access policies is decided in core.access (the fleet
plan's eks_access): one entry per IAM principal, Kubernetes username = the ARN, RBAC does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core.access import PrincipalAccess

POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/{}"


def _slug(arn: str) -> str:
    return arn.split(":", 4)[4].replace("/", "-").replace(":", "-")


def _resources(depends_on) -> list:
    if depends_on is None:
        return []
    return list(depends_on) if isinstance(depends_on, (list, tuple)) else [depends_on]


@dataclass(frozen=True)
class EksAccessArgs:
    principals: tuple[PrincipalAccess, ...]
    """One entry each, with the namespace-scoped access policies to associate."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster (an Output, so entries wait for it)."""


class EksAccess(pulumi.ComponentResource):
    """aws.eks.AccessEntry per IAM principal, AccessPolicyAssociation only where core.access says.

    Resources in opts.depends_on (the tenant namespaces) are waited for by the associations."""

    def __init__(self, name: str, args: EksAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:eks_access:EksAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Children do not inherit the component's dependencies: the associations name the tenants' namespaces.
        waits = _resources(opts.depends_on if opts else None)
        self.entries: dict[str, aws.eks.AccessEntry] = {}
        for access in args.principals:
            slug = _slug(access.principal_arn)
            entry = aws.eks.AccessEntry(
                f"{name}-{slug}",
                cluster_name=args.cluster_name,
                principal_arn=access.principal_arn,
                user_name=access.username,
                type="STANDARD",
                opts=child,
            )
            self.entries[access.principal_arn] = entry
            for policy, namespaces in access.policies.items():
                aws.eks.AccessPolicyAssociation(
                    f"{name}-{slug}-{policy}",
                    cluster_name=args.cluster_name,
                    principal_arn=entry.principal_arn,
                    policy_arn=POLICY_ARN.format(policy),
                    access_scope={"type": "namespace", "namespaces": list(namespaces)},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[entry, *waits]),
                )
        self.register_outputs({"principals": list(self.entries)})
