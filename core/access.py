"""Principals and the namespace roles they get. Pure.

A tenant's `access` names principals at three levels; each becomes an RBAC subject bound in the
tenant's namespace:

    user:NAME  -> User NAME          group:NAME -> Group NAME
    arn:aws:iam::ACCOUNT:role/X      -> User "arn:aws:iam::ACCOUNT:role/X"

An IAM ARN becomes the Kubernetes username equal to the ARN: on EKS the fleet creates its access
entry with exactly that username; on an existing cluster whatever maps IAM to Kubernetes
(aws-auth, an authenticator) must do the same.

Authorization stays in RBAC: AmazonEKSAdminPolicy and AmazonEKSEditPolicy would let a tenant
write its own NetworkPolicies (EKS evaluates access policies next to RBAC), so they are never
associated. Only viewers also get the read-only AmazonEKSViewPolicy, scoped to their namespaces,
which grants nothing RBAC's `view` does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping, Protocol

from .names import TENANT_ADMIN_ROLE, TENANT_EDIT_ROLE, TENANT_VIEW_ROLE
from .spec import AccessSpec

RBAC_GROUP = "rbac.authorization.k8s.io"
IAM_PREFIX = "arn:aws:iam::"
# Access level -> ClusterRole bound in the namespace.
ACCESS_ROLES = MappingProxyType({"admins": TENANT_ADMIN_ROLE, "editors": TENANT_EDIT_ROLE, "viewers": TENANT_VIEW_ROLE})
# Access level -> EKS access policy associated (namespace scope); levels not listed get none.
EKS_ACCESS_POLICIES = MappingProxyType({"viewers": "AmazonEKSViewPolicy"})


def is_iam_principal(principal: str) -> bool:
    return principal.startswith(IAM_PREFIX)


def rbac_subject(principal: str) -> dict:
    """user:NAME -> User, group:NAME -> Group, an IAM ARN -> User named the ARN."""
    if principal.startswith("group:"):
        return {"kind": "Group", "name": principal.split(":", 1)[1], "apiGroup": RBAC_GROUP}
    if principal.startswith("user:"):
        return {"kind": "User", "name": principal.split(":", 1)[1], "apiGroup": RBAC_GROUP}
    if is_iam_principal(principal):
        return {"kind": "User", "name": principal, "apiGroup": RBAC_GROUP}
    raise ValueError(f"not a principal: '{principal}'")


class HasAccess(Protocol):
    """A tenant as the spec or the plan holds it: a name and its principals."""

    name: str
    access: AccessSpec


def levels(tenant: HasAccess) -> Iterable[tuple[str, list[str]]]:
    """(access level, principals) in the order of ACCESS_ROLES."""
    for level in ACCESS_ROLES:
        yield level, getattr(tenant.access, level)


def role_bindings(tenant: HasAccess) -> dict[str, dict]:
    """Access level -> {role, subjects}, only for levels with principals (subjects deduplicated)."""
    bindings = {}
    for level, principals in levels(tenant):
        subjects = []
        for principal in principals:
            subject = rbac_subject(principal)
            if subject not in subjects:
                subjects.append(subject)
        if subjects:
            bindings[level] = {"role": ACCESS_ROLES[level], "subjects": subjects}
    return bindings


@dataclass(frozen=True)
class PrincipalAccess:
    """One EKS access entry: an IAM principal, its Kubernetes username, and its scoped access policies."""

    principal_arn: str
    username: str
    policies: Mapping[str, tuple[str, ...]]  # EKS access policy name -> namespaces


def eks_access_plan(tenants: Iterable[HasAccess]) -> list[PrincipalAccess]:
    """One entry per IAM principal across tenants, in first-seen order (an entry is per cluster and principal)."""
    policies: dict[str, dict[str, list[str]]] = {}
    for tenant in tenants:
        for level, principals in levels(tenant):
            for principal in principals:
                if not is_iam_principal(principal):
                    continue
                entry = policies.setdefault(principal, {})
                policy = EKS_ACCESS_POLICIES.get(level)
                if policy is not None and tenant.name not in entry.setdefault(policy, []):
                    entry[policy].append(tenant.name)
    return [
        PrincipalAccess(arn, arn, MappingProxyType({k: tuple(v) for k, v in found.items()}))
        for arn, found in policies.items()
    ]
