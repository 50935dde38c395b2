"""Tenants: GPU quotas, capacity, RBAC scope, network isolation, Pod Security, GPU sharing."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

from pulumi_policy import EnforcementLevel, Severity

from . import constants as c
from .base import resource_policy, schema, stack_policy
from .fleet import Fleet, Pool, device_plugin_configs, is_pool_inventory, pool_from_node_group, pools_from_inventory, quota_of, tenant_from_namespace, tenant_pools
from .props import get, items, labels, mapping

# --- tenant-has-gpu-quota ---------------------------------------------------------------


def _check_has_quota(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    for tenant in fleet.tenants:
        quota, _ = quota_of(fleet, tenant)
        if quota is None:
            yield tenant.urn, (
                f"tenant namespace '{tenant.namespace}' has no ResourceQuota on {c.GPU_QUOTA_KEY}: add a ResourceQuota "
                f"in the namespace with spec.hard['{c.GPU_QUOTA_KEY}'] set to the tenant's gpuQuota"
            )


tenant_has_gpu_quota = stack_policy(
    name="tenant-has-gpu-quota",
    description="Every tenant namespace has a ResourceQuota on requests.nvidia.com/gpu.",
    check=_check_has_quota,
    severity=Severity.HIGH,
    remediation_steps="Give every namespace labelled gpufleet.io/tenant a ResourceQuota with hard requests.nvidia.com/gpu (extended resources take requests.* only).",
)


# --- tenant-quota-within-capacity -------------------------------------------------------

_MIG_SLICES = re.compile(r"^(?P<g>\d+)g\.")
MIG_COMPUTE_SLICES = 7  # every MIG-capable GPU in the facts splits into 7 compute slices


def schedulable_gpus_per_gpu(pool: Pool) -> int:
    """nvidia.com/gpu the device plugin advertises per physical GPU."""
    if pool.sharing == "time-slicing":
        return pool.replicas or 1
    if pool.sharing == "mig" and pool.mig_profile:
        match = _MIG_SLICES.match(pool.mig_profile)
        if match and int(match.group("g")) > 0:
            return max(1, MIG_COMPUTE_SLICES // int(match.group("g")))
    return 1


def pool_capacity(pool: Pool) -> Optional[int]:
    """nvidia.com/gpu the pool offers at its maximum size; None when not known."""
    if pool.max_size is None or pool.gpus_per_node is None:
        return None
    return pool.max_size * pool.gpus_per_node * schedulable_gpus_per_gpu(pool)


def _check_quota_capacity(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    ratio = float(opts.get("oversubscriptionRatio", 1.0))
    for tenant in fleet.tenants:
        quota_resource, quota = quota_of(fleet, tenant)
        pools = tenant_pools(fleet, tenant)
        if quota is None or not pools:
            continue
        capacities = [pool_capacity(p) for p in pools]
        if any(cap is None for cap in capacities):
            continue  # sizes or instance types not known (preview): nothing to judge
        capacity = sum(capacities)
        if quota > capacity * ratio:
            names = ", ".join(p.name for p in pools)
            yield quota_resource.urn, (
                f"tenant '{tenant.name}' has a GPU quota of {quota} but its pools ({names}) offer at most {capacity} "
                f"nvidia.com/gpu (ratio {ratio:g}): lower gpuQuota to {int(capacity * ratio)} or raise the pools' maxSize"
            )


tenant_quota_within_capacity = stack_policy(
    name="tenant-quota-within-capacity",
    description="Each tenant's GPU quota fits the GPUs its pools offer at maximum size (times an oversubscription ratio).",
    check=_check_quota_capacity,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps="Lower the tenant's gpuQuota, raise maxSize of its pools, or allow oversubscription with oversubscriptionRatio.",
    config_schema=schema(
        oversubscriptionRatio={
            "type": "number",
            "default": 1.0,
            "minimum": 0,
            "description": "How far a tenant's quota may exceed its pools' capacity (1.0: not at all; 2.0: twice).",
        }
    ),
)


# --- tenant-rbac-scoped -----------------------------------------------------------------


def _human_subjects(props: Any) -> list[str]:
    found = []
    for subject in items(props, "subjects"):
        kind, name = get(subject, "kind"), get(subject, "name")
        if kind in ("User", "Group") and name and not str(name).startswith("system:"):
            found.append(f"{kind} {name}")
    return found


def _check_rbac(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    if resource_type == c.ACCESS_POLICY_ASSOCIATION:
        policy_arn = str(get(props, "policyArn") or "")
        scope = get(props, "accessScope", "type")
        principal = get(props, "principalArn") or "the principal"
        if policy_arn.endswith(c.EKS_CLUSTER_ADMIN_POLICY):
            yield f"{principal} is associated with {c.EKS_CLUSTER_ADMIN_POLICY}: use AmazonEKSEditPolicy/AmazonEKSViewPolicy scoped to the tenant's namespace"
        elif scope == "cluster":
            yield f"{principal} gets {policy_arn.rsplit('/', 1)[-1]} cluster-wide: set accessScope {{type: namespace, namespaces: [<tenant>]}}"
        return
    role = get(props, "roleRef", "name")
    subjects = _human_subjects(props)
    if role == c.CLUSTER_ADMIN_ROLE and subjects:
        yield f"{', '.join(subjects)} bound to {c.CLUSTER_ADMIN_ROLE}: bind the namespace role admin, edit or view instead"
    elif resource_type == c.CLUSTER_ROLE_BINDING and c.TENANT_LABEL in labels(props):
        yield (
            f"tenant '{labels(props)[c.TENANT_LABEL]}' gets ClusterRole {role} cluster-wide: use a RoleBinding in the "
            f"tenant's namespace instead"
        )


tenant_rbac_scoped = resource_policy(
    name="tenant-rbac-scoped",
    description="Tenant principals get namespace-scoped roles only: no cluster-admin, no tenant ClusterRoleBindings, no cluster-scoped EKS access policies.",
    types=[c.ROLE_BINDING, c.CLUSTER_ROLE_BINDING, c.ACCESS_POLICY_ASSOCIATION],
    check=_check_rbac,
    severity=Severity.CRITICAL,
    remediation_steps="Bind tenant principals with RoleBindings in their namespace to the ClusterRoles admin, edit or view; EKS access policies with accessScope type namespace.",
)


# --- tenant-network-isolated ------------------------------------------------------------


def _selects_all_pods(selector: Any) -> bool:
    return not mapping(selector, "matchLabels") and not items(selector, "matchExpressions")


def _open_peer(peer: Any) -> bool:
    cidr = get(peer, "ipBlock", "cidr")
    if cidr in ("0.0.0.0/0", "::/0"):
        return True
    namespace_selector = get(peer, "namespaceSelector")
    return namespace_selector is not None and _selects_all_pods(namespace_selector) and get(peer, "podSelector") is None


def is_default_deny(props: Any) -> bool:
    """Selects every pod in its namespace for Ingress and admits nothing from outside it wholesale."""
    spec = get(props, "spec")
    if spec is None:
        return False
    if not _selects_all_pods(get(spec, "podSelector")):
        return False
    types = [str(t) for t in items(spec, "policyTypes")]
    if types and "Ingress" not in types:
        return False
    for rule in items(spec, "ingress"):
        peers = items(rule, "from")
        if not peers or any(_open_peer(p) for p in peers):
            return False
    return True


def _check_network(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    for tenant in fleet.tenants:
        policies = fleet.in_namespace(c.NETWORK_POLICY, tenant.namespace)
        if not any(is_default_deny(p.props) for p in policies):
            yield tenant.urn, (
                f"tenant namespace '{tenant.namespace}' has no default-deny NetworkPolicy: add one with podSelector {{}} "
                f"and policyTypes [Ingress, Egress] that admits only the namespace's own pods"
            )


tenant_network_isolated = stack_policy(
    name="tenant-network-isolated",
    description="Each tenant namespace has a default-deny NetworkPolicy (all pods selected, Ingress denied but for named peers).",
    check=_check_network,
    severity=Severity.HIGH,
    remediation_steps="Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] to every tenant namespace; allow only specific peers.",
)


# --- tenant-pod-security ----------------------------------------------------------------


def _check_pod_security(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    tenant = tenant_from_namespace(props, urn)
    if tenant is None:
        return
    minimum = str(opts.get("minimumLevel", "restricted"))
    enforce = tenant.labels.get(c.POD_SECURITY_ENFORCE_LABEL)
    if enforce is None and get(props, "metadata", "labels") is None:
        return  # labels unknown during preview
    levels = c.POD_SECURITY_LEVELS
    if enforce not in levels or levels.index(enforce) < levels.index(minimum):
        got = f"'{enforce}'" if enforce is not None else "not set"
        yield (
            f"tenant namespace '{tenant.namespace}' Pod Security enforce level is {got}: label it "
            f"{c.POD_SECURITY_ENFORCE_LABEL}={minimum}"
        )


tenant_pod_security = resource_policy(
    name="tenant-pod-security",
    description="Tenant namespaces enforce Pod Security restricted (or the level minimumLevel allows).",
    types=[c.NAMESPACE],
    check=_check_pod_security,
    severity=Severity.HIGH,
    remediation_steps="Label tenant namespaces pod-security.kubernetes.io/enforce=restricted (or set minimumLevel: baseline).",
    config_schema=schema(
        minimumLevel={
            "type": "string",
            "enum": ["baseline", "restricted"],
            "default": "restricted",
            "description": "The weakest Pod Security level a tenant namespace may enforce.",
        }
    ),
)


# --- no-mps-sharing ---------------------------------------------------------------------


def _check_mps(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    if resource_type == c.NODE_GROUP:
        pools = [pool_from_node_group(resource_type, props, urn, name)]
    else:
        pools = pools_from_inventory(props, urn) if is_pool_inventory(props) else []
        for key, config in sorted(device_plugin_configs(props).items()):
            if (config.get("sharing") or {}).get("mps"):
                yield (
                    f"device plugin config '{key}' enables MPS sharing (sharing.mps): MPS gives tenants no memory or "
                    f"fault isolation; use time-slicing within one tenant, MIG, or exclusive GPUs"
                )
    for pool in pools:
        if pool.sharing == "mps":
            yield f"{pool.label} shares GPUs with MPS: use time-slicing, mig or exclusive"


no_mps_sharing = resource_policy(
    name="no-mps-sharing",
    description="No GPU is shared through CUDA MPS (no memory or fault isolation between tenants' processes).",
    types=[c.CONFIG_MAP, c.NODE_GROUP],
    check=_check_mps,
    severity=Severity.HIGH,
    remediation_steps="Remove sharing.mps from device plugin configs; use sharing.mode exclusive, time-slicing or mig.",
)


POLICIES = [
    tenant_has_gpu_quota,
    tenant_quota_within_capacity,
    tenant_rbac_scoped,
    tenant_network_isolated,
    tenant_pod_security,
    no_mps_sharing,
]
