"""EksAccess: EKS access entries for the tenants' IAM principals (authentication mode API).

Each IAM principal gets one access entry (an entry is per cluster and principal, so a principal
in several tenants still gets one) whose Kubernetes username is the ARN itself; the tenants'
RoleBindings name that user. Authorization stays in RBAC: AmazonEKSAdminPolicy and
AmazonEKSEditPolicy would let a tenant write its own NetworkPolicies (EKS evaluates access
policies next to RBAC), so they are never associated. Only viewers also get the read-only
AmazonEKSViewPolicy, scoped to their namespaces, which grants nothing RBAC's `view` does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .spec import FleetSpec
from .tenant import is_iam_principal

POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/{}"
# Access level -> EKS access policy associated (namespace scope); levels not listed get none.
EKS_ACCESS_POLICIES = {"viewers": "AmazonEKSViewPolicy"}


@dataclass(frozen=True)
class PrincipalAccess:
    principal_arn: str
    username: str
    policies: dict[str, list[str]]  # EKS access policy name -> namespaces


def eks_access_plan(spec: FleetSpec) -> list[PrincipalAccess]:
    """One entry per IAM principal across tenants, in first-seen order."""
    order: list[str] = []
    policies: dict[str, dict[str, list[str]]] = {}
    for tenant in spec.tenants:
        for level in ("admins", "editors", "viewers"):
            for principal in getattr(tenant.access, level):
                if not is_iam_principal(principal):
                    continue
                if principal not in policies:
                    order.append(principal)
                    policies[principal] = {}
                policy = EKS_ACCESS_POLICIES.get(level)
                if policy is not None:
                    namespaces = policies[principal].setdefault(policy, [])
                    if tenant.name not in namespaces:
                        namespaces.append(tenant.name)
    return [PrincipalAccess(arn, arn, policies[arn]) for arn in order]


def _slug(arn: str) -> str:
    return arn.split(":", 4)[4].replace("/", "-").replace(":", "-")


@dataclass
class EksAccessArgs:
    spec: FleetSpec
    """The fleet; its tenants' IAM principals get entries."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster (an Output, so entries wait for it)."""
    depends_on: list[pulumi.Resource] | None = None
    """Resources the associations wait for (the tenant namespaces)."""


class EksAccess(pulumi.ComponentResource):
    """aws.eks.AccessEntry per IAM principal, AccessPolicyAssociation only for viewers."""

    def __init__(self, name: str, args: EksAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:eks_access:EksAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.entries: dict[str, aws.eks.AccessEntry] = {}
        for access in eks_access_plan(args.spec):
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
                    access_scope={"type": "namespace", "namespaces": namespaces},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[entry, *(args.depends_on or [])]),
                )
        self.register_outputs({"principals": list(self.entries)})
