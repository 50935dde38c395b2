"""Tenant: one team's namespace with its GPU quota, isolation, access and placement guide.

Everything a tenant cannot change itself lives here: the ResourceQuota, the LimitRange and the
NetworkPolicies (tenant roles only read them, see tenant_roles). Principals become RBAC subjects
as core.access maps them; bindings are always RoleBindings in the tenant's namespace.

Kubernetes has no per-namespace default PriorityClass: the namespace carries the class name
(gpufleet.io/priority-class) and the placement ConfigMap lists it, for admission or teams to apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from core.access import RBAC_GROUP, role_bindings
from core.names import (
    CUDA_ANNOTATION,
    EFA_RESOURCE,
    ISOLATION_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PLACEMENT_CONFIGMAP,
    PLACEMENT_KEY,
    POOLS_ANNOTATION,
    PRIORITY_ANNOTATION,
    PRIORITY_CLASS_ANNOTATION,
    PRIORITY_QUOTA,
    PSA_AUDIT_LABEL,
    PSA_ENFORCE_LABEL,
    PSA_WARN_LABEL,
    TENANT_LABEL,
    TENANT_QUOTA,
)
from core.plan import TenantPlan

from .meta import object_meta

# libyaml's safe dumper where PyYAML has it (same text as yaml.safe_dump, about 4x faster).
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# Container defaults where a pod does not say (the quota on requests.* needs requests set).
DEFAULT_REQUEST = {"cpu": "100m", "memory": "256Mi"}
DEFAULT_LIMIT = {"cpu": "1", "memory": "1Gi"}
PSA_LEVEL = "restricted"


def psa_labels(level: str = PSA_LEVEL) -> dict[str, str]:
    return {PSA_ENFORCE_LABEL: level, PSA_AUDIT_LABEL: level, PSA_WARN_LABEL: level}


def namespace_labels(tenant: TenantPlan) -> dict[str, str]:
    return {TENANT_LABEL: tenant.name, MANAGED_BY_LABEL: MANAGED_BY, **psa_labels()}


def namespace_annotations(tenant: TenantPlan) -> dict[str, str]:
    return {
        POOLS_ANNOTATION: ",".join(tenant.pools),
        CUDA_ANNOTATION: ",".join(tenant.cuda_versions),
        PRIORITY_ANNOTATION: tenant.priority,
        PRIORITY_CLASS_ANNOTATION: tenant.priority_class,
        ISOLATION_ANNOTATION: tenant.isolation,
    }


def priority_class_quota(tenant: TenantPlan) -> dict:
    """No pod of a priority class above the tenant's: a quota of zero pods scoped to those classes
    (Kubernetes docs, Resource Quotas, "Limit Priority Class consumption by default", done per
    namespace since EKS offers no admission configuration). Without it any tenant could run
    gpufleet-critical pods, or Kubernetes' system-node-critical ones, and preempt other tenants' pods."""
    return {
        "hard": {"pods": "0"},
        "scopeSelector": {
            "matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": list(tenant.forbidden_priority_classes)}
            ]
        },
    }


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


def cpu_alignment_guide(topology_policy: str) -> dict[str, str]:
    """What a pod on a CPU-aligned pool needs: the static CPU manager pins only Guaranteed pods' containers with
    whole-CPU requests (Kubernetes docs, "Control CPU Management Policies on the Node": static policy)."""
    return {
        "topologyManagerPolicy": topology_policy,
        "pods": "Guaranteed QoS: every container's cpu and memory requests equal its limits, cpu in whole CPUs "
        "(e.g. 4, not 3500m), so its CPUs are exclusive and on the NUMA node of its GPUs",
    }


def placement(tenant: TenantPlan) -> dict[str, dict]:
    """Pool -> what a pod spec needs to land there (nodeSelector, tolerations, resource, class)."""
    return {
        p.pool: {
            "nodeSelector": p.node_selector,
            "tolerations": [dict(t) for t in p.tolerations],
            "gpuResources": list(p.gpu_resources),
            "sharing": p.sharing,
            **({"migDevices": dict(p.mig_devices)} if p.mig_devices else {}),
            **({"cpuAlignment": cpu_alignment_guide(p.topology_policy)} if p.topology_policy else {}),
            **({"efa": {"resource": EFA_RESOURCE, "devicesPerNode": p.efa_devices}} if p.efa_devices else {}),
            "priorityClassName": p.priority_class,
        }
        for p in tenant.placements
    }


def placement_data(tenant: TenantPlan) -> dict[str, str]:
    """placement.json (every pool) and <pool>.yaml (a pod-spec snippet per pool)."""
    guide = placement(tenant)
    data = {PLACEMENT_KEY: json.dumps(guide, indent=2, sort_keys=True)}
    for name, entry in guide.items():
        snippet = {k: entry[k] for k in ("nodeSelector", "tolerations", "priorityClassName")}
        data[f"{name}.yaml"] = yaml.dump(snippet, Dumper=SAFE_DUMPER, sort_keys=False)
    return data


@dataclass(frozen=True)
class TenantArgs:
    tenant: TenantPlan
    """The tenant: its pools' placements, quota, priority and principals."""


class Tenant(pulumi.ComponentResource):
    """Namespace, ResourceQuota, LimitRange, NetworkPolicies, RoleBindings and placement guide."""

    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:tenant:Tenant", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tenant = args.tenant
        ns = k8s.core.v1.Namespace(
            tenant.name,
            metadata=object_meta(tenant.name, labels=namespace_labels(tenant), annotations=namespace_annotations(tenant)),
            opts=child,
        )
        self.namespace = ns.metadata.name
        managed = {MANAGED_BY_LABEL: MANAGED_BY, TENANT_LABEL: tenant.name}

        def meta(object_name: str) -> dict:
            return object_meta(object_name, self.namespace, managed)

        k8s.core.v1.ResourceQuota(
            f"{tenant.name}-gpu-quota", metadata=meta(TENANT_QUOTA), spec={"hard": dict(tenant.quota)}, opts=child
        )
        k8s.core.v1.ResourceQuota(
            f"{tenant.name}-priority-classes", metadata=meta(PRIORITY_QUOTA), spec=priority_class_quota(tenant), opts=child
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
            data=placement_data(tenant),
            opts=child,
        )
        self.register_outputs({"namespace": self.namespace})
