"""Tenant: one team's namespace with its GPU quota, isolation, access and placement guide.

Everything a tenant cannot change itself lives here: the ResourceQuota, the LimitRange and the
NetworkPolicies (tenant roles only read them, see tenant_roles). Principals map to RBAC subjects:

    user:NAME  -> User NAME          group:NAME -> Group NAME
    arn:aws:iam::ACCOUNT:role/X      -> User "arn:aws:iam::ACCOUNT:role/X"

An IAM ARN becomes the Kubernetes username equal to the ARN: on EKS the EksAccess component
creates its access entry with exactly that username; on an existing cluster whatever maps IAM
to Kubernetes (aws-auth, an authenticator) must do the same. Bindings are always RoleBindings
in the tenant's namespace.

Kubernetes has no per-namespace default PriorityClass: the namespace carries the class name
(gpufleet.io/priority-class) and the placement ConfigMap lists it, for admission or teams to apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from .fleet_labels import (
    CUDA_ANNOTATION,
    ISOLATION_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PLACEMENT_CONFIGMAP,
    PLACEMENT_KEY,
    POOL_LABEL,
    POOLS_ANNOTATION,
    PRIORITY_ANNOTATION,
    PRIORITY_CLASS_ANNOTATION,
    PRIORITY_CLASSES,
    PSA_AUDIT_LABEL,
    PSA_ENFORCE_LABEL,
    PSA_WARN_LABEL,
    TENANT_ADMIN_ROLE,
    TENANT_EDIT_ROLE,
    TENANT_LABEL,
    TENANT_VIEW_ROLE,
)
from .pool_decisions import pool_tolerations
from .spec import FleetSpec, NodePoolSpec, TenantSpec

RBAC_GROUP = "rbac.authorization.k8s.io"
# Access level -> ClusterRole bound in the namespace.
ACCESS_ROLES = {"admins": TENANT_ADMIN_ROLE, "editors": TENANT_EDIT_ROLE, "viewers": TENANT_VIEW_ROLE}
# libyaml's safe dumper where PyYAML has it (same text as yaml.safe_dump, about 4x faster).
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# Container defaults where a pod does not say (the quota on requests.* needs requests set).
DEFAULT_REQUEST = {"cpu": "100m", "memory": "256Mi"}
DEFAULT_LIMIT = {"cpu": "1", "memory": "1Gi"}


def is_iam_principal(principal: str) -> bool:
    return principal.startswith("arn:aws:iam::")


def rbac_subject(principal: str) -> dict:
    """user:NAME -> User, group:NAME -> Group, an IAM ARN -> User named the ARN."""
    if principal.startswith("group:"):
        return {"kind": "Group", "name": principal.split(":", 1)[1], "apiGroup": RBAC_GROUP}
    if principal.startswith("user:"):
        return {"kind": "User", "name": principal.split(":", 1)[1], "apiGroup": RBAC_GROUP}
    if is_iam_principal(principal):
        return {"kind": "User", "name": principal, "apiGroup": RBAC_GROUP}
    raise ValueError(f"not a principal: '{principal}'")


def role_bindings(tenant: TenantSpec) -> dict[str, dict]:
    """Access level -> {role, subjects}, only for levels with principals (subjects deduplicated)."""
    bindings = {}
    for level, role in ACCESS_ROLES.items():
        subjects = []
        for principal in getattr(tenant.access, level):
            subject = rbac_subject(principal)
            if subject not in subjects:
                subjects.append(subject)
        if subjects:
            bindings[level] = {"role": role, "subjects": subjects}
    return bindings


def psa_labels(level: str = "restricted") -> dict[str, str]:
    return {PSA_ENFORCE_LABEL: level, PSA_AUDIT_LABEL: level, PSA_WARN_LABEL: level}


def namespace_labels(tenant: TenantSpec) -> dict[str, str]:
    return {TENANT_LABEL: tenant.name, MANAGED_BY_LABEL: MANAGED_BY, **psa_labels()}


def namespace_annotations(tenant: TenantSpec) -> dict[str, str]:
    return {
        POOLS_ANNOTATION: ",".join(tenant.pools),
        CUDA_ANNOTATION: ",".join(tenant.cuda_versions),
        PRIORITY_ANNOTATION: tenant.priority,
        PRIORITY_CLASS_ANNOTATION: PRIORITY_CLASSES[tenant.priority],
        ISOLATION_ANNOTATION: tenant.isolation,
    }


def gpu_resource(pool: NodePoolSpec) -> str:
    """The extended resource a pod requests on the pool (MIG mixed renames it per profile)."""
    if pool.sharing.mode == "mig" and pool.sharing.effective_mig_strategy == "mixed":
        return f"nvidia.com/mig-{pool.sharing.mig_profile}"
    return "nvidia.com/gpu"


def quota_hard(spec: FleetSpec, tenant: TenantSpec) -> dict[str, str]:
    """Extended resources only take a requests.* quota; every GPU resource of the tenant's pools."""
    hard = {f"requests.{gpu_resource(spec.pool(name))}": str(tenant.gpu_quota) for name in tenant.pools}
    hard["requests.nvidia.com/gpu"] = str(tenant.gpu_quota)
    if tenant.cpu_quota is not None:
        hard["requests.cpu"] = tenant.cpu_quota
    if tenant.memory_quota is not None:
        hard["requests.memory"] = tenant.memory_quota
    return dict(sorted(hard.items()))


def limit_range_limits() -> list[dict]:
    return [{"type": "Container", "defaultRequest": dict(DEFAULT_REQUEST), "default": dict(DEFAULT_LIMIT)}]


def network_policies() -> dict[str, dict]:
    """Name -> NetworkPolicy spec: default deny, DNS to kube-system, anything within the namespace."""
    everything = {}
    return {
        "default-deny": {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": everything,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
        "allow-same-namespace": {
            "podSelector": everything,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": everything}]}],
            "egress": [{"to": [{"podSelector": everything}]}],
        },
    }


def placement(spec: FleetSpec, tenant: TenantSpec) -> dict[str, dict]:
    """Pool -> what a pod spec needs to land there (nodeSelector, tolerations, resource, class)."""
    guide = {}
    for name in tenant.pools:
        pool = spec.pool(name)
        guide[name] = {
            "nodeSelector": {POOL_LABEL: name},
            "tolerations": pool_tolerations(spec, pool),
            "gpuResource": gpu_resource(pool),
            "sharing": pool.sharing.mode,
            "priorityClassName": PRIORITY_CLASSES[tenant.priority],
        }
    return guide


def placement_data(spec: FleetSpec, tenant: TenantSpec) -> dict[str, str]:
    """placement.json (every pool) and <pool>.yaml (a pod-spec snippet per pool)."""
    guide = placement(spec, tenant)
    data = {PLACEMENT_KEY: json.dumps(guide, indent=2, sort_keys=True)}
    for name, entry in guide.items():
        snippet = {k: entry[k] for k in ("nodeSelector", "tolerations", "priorityClassName")}
        data[f"{name}.yaml"] = yaml.dump(snippet, Dumper=SAFE_DUMPER, sort_keys=False)
    return data


@dataclass
class TenantArgs:
    spec: FleetSpec
    """The fleet (the tenant's pools are looked up in it)."""
    tenant: TenantSpec
    """The tenant to build."""


class Tenant(pulumi.ComponentResource):
    """Namespace, ResourceQuota, LimitRange, NetworkPolicies, RoleBindings and placement guide."""

    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:tenant:Tenant", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, tenant = args.spec, args.tenant
        ns = k8s.core.v1.Namespace(
            tenant.name,
            metadata={
                "name": tenant.name,
                "labels": namespace_labels(tenant),
                "annotations": namespace_annotations(tenant),
            },
            opts=child,
        )
        self.namespace = ns.metadata.name
        managed = {MANAGED_BY_LABEL: MANAGED_BY, TENANT_LABEL: tenant.name}

        def meta(object_name: str) -> dict:
            return {"name": object_name, "namespace": self.namespace, "labels": managed}

        k8s.core.v1.ResourceQuota(
            f"{tenant.name}-gpu-quota", metadata=meta("gpufleet-quota"), spec={"hard": quota_hard(spec, tenant)}, opts=child
        )
        k8s.core.v1.LimitRange(
            f"{tenant.name}-limits", metadata=meta("gpufleet-limits"), spec={"limits": limit_range_limits()}, opts=child
        )
        for policy, policy_spec in network_policies().items():
            k8s.networking.v1.NetworkPolicy(
                f"{tenant.name}-{policy}", metadata=meta(f"gpufleet-{policy}"), spec=policy_spec, opts=child
            )
        for level, binding in role_bindings(tenant).items():
            k8s.rbac.v1.RoleBinding(
                f"{tenant.name}-{level}",
                metadata=meta(f"gpufleet-{level}"),
                role_ref={"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": binding["role"]},
                subjects=binding["subjects"],
                opts=child,
            )
        k8s.core.v1.ConfigMap(
            f"{tenant.name}-{PLACEMENT_CONFIGMAP}",
            metadata=meta(PLACEMENT_CONFIGMAP),
            data=placement_data(spec, tenant),
            opts=child,
        )
        self.register_outputs({"namespace": self.namespace})
