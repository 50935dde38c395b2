"""Tenants: GPU quotas, capacity, RBAC scope, network isolation, Pod Security, GPU sharing."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from pulumi_policy import EnforcementLevel, Severity

from core import names
from core.capacity import PoolGpus, QuotaCapacityGroup, TenantQuota, capacity_groups
from core.plan import TIME_SLICING

from . import resource_types
from .builders import POOL_RESOURCES, resource_policy, schema, stack_policy
from .observed_fleet import (
    Fleet,
    Pool,
    device_plugin_configs,
    pools_of_resource,
    quota_of,
    tenant_from_namespace,
    tenant_gpu_quota,
)
from .props import annotations, get, items, labels, mapping, parse_document, pending

# --- tenant-has-gpu-quota ---------------------------------------------------------------


def _check_has_quota(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    for tenant in fleet.tenants:
        quota, _ = quota_of(fleet, tenant)
        if quota is None:
            yield tenant.urn, (
                f"tenant namespace '{tenant.namespace}' has no ResourceQuota on {names.GPU_QUOTA_RESOURCE}: add a ResourceQuota "
                f"in the namespace with spec.hard['{names.GPU_QUOTA_RESOURCE}'] set to the tenant's gpuQuota"
            )


tenant_has_gpu_quota = stack_policy(
    name="tenant-has-gpu-quota",
    description="Every tenant namespace has a ResourceQuota on requests.nvidia.com/gpu.",
    check=_check_has_quota,
    severity=Severity.HIGH,
    remediation_steps="Give every namespace labelled gpufleet.io/tenant a ResourceQuota with hard requests.nvidia.com/gpu (extended resources take requests.* only).",
)


# --- tenant-quota-within-capacity -------------------------------------------------------

def pool_gpus(pool: Pool) -> PoolGpus:
    """The pool as capacity grouping sees it: devices at max size (None when not known)."""
    per_node = pool.devices_per_node
    gpu = pool.gpu
    return PoolGpus(
        name=pool.name,
        gpus_at_max=pool.max_size * per_node if pool.max_size is not None and per_node is not None else None,
        model=gpu.model if gpu is not None else pool.gpu_model,
        shared=pool.sharing == TIME_SLICING,
    )


def quota_groups(fleet: Fleet, ratio: float) -> tuple[list[QuotaCapacityGroup], dict[str, Any]]:
    """The plan's quota/capacity groups (core.capacity), read from the resources, and each
    tenant's quota resource by tenant name."""
    quotas: dict[str, Any] = {}
    tenants = []
    for tenant in fleet.tenants:
        resource, quota = tenant_gpu_quota(fleet, tenant)
        quotas[tenant.name] = resource
        tenants.append(TenantQuota(tenant.name, quota, tuple(tenant.pools)))
    # pools in the inventory's (= the spec's) order, as the plan lists them; others after them
    rank = {name: i for i, name in reversed(list(enumerate(fleet.inventory_order)))}
    pools = sorted(fleet.pools.values(), key=lambda p: rank.get(p.name, len(rank)))
    return capacity_groups([pool_gpus(p) for p in pools], tenants, ratio), quotas


# The option of tenant-quota-within-capacity that `gpufleet plan`'s capacity report reads too.
OVERSUBSCRIPTION_RATIO = "oversubscriptionRatio"


def _check_quota_capacity(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    ratio = float(opts[OVERSUBSCRIPTION_RATIO])
    groups, quotas = quota_groups(fleet, ratio)
    for group in groups:
        if not group.oversubscribed:
            continue
        tenants = ", ".join(group.tenants)
        urn = quotas[group.tenants[0]].urn if len(group.tenants) == 1 and quotas[group.tenants[0]] is not None else None
        shared = " (time-slicing/MIG: the pools advertise more nvidia.com/gpu units than GPUs)" if group.shared_gpus else ""
        yield urn, (
            f"pools [{', '.join(group.pools)}]: tenants confined to them ({tenants}) have GPU quotas summing to "
            f"{group.quota} but the pools have {group.gpus_at_max} GPUs at max size{shared}, ratio "
            f"{'-' if group.ratio is None else f'{group.ratio:.2f}'} above {ratio:g}: lower the tenants' gpuQuota to "
            f"{int(group.gpus_at_max * ratio)} in all, raise the pools' maxSize, or allow it with oversubscriptionRatio"
        )


tenant_quota_within_capacity = stack_policy(
    name="tenant-quota-within-capacity",
    description=(
        "For every group of pools some tenant may use (and every connected union of such groups), the GPU quotas of "
        "the tenants confined to it fit the group's GPUs at maximum size times an oversubscription ratio "
        "(the groups of `gpufleet plan`'s capacity report)."
    ),
    check=_check_quota_capacity,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps="Lower the tenant's gpuQuota, raise maxSize of its pools, or allow oversubscription with oversubscriptionRatio.",
    config_schema=schema(
        **{
            OVERSUBSCRIPTION_RATIO: {
                "type": "number",
                "default": 1.0,
                "minimum": 0,
                "description": "How far a group's quota sum may exceed its pools' GPUs at max size (1.0: not at all; 2.0: twice).",
            }
        }
    ),
)


# --- network-policy-enforced -------------------------------------------------------------


def _vpc_cni_enforces(props: Any) -> Optional[bool]:
    """Whether the VPC CNI add-on's configuration turns NetworkPolicy enforcement on; None when unknown."""
    config = parse_document(get(props, "configurationValues"))
    if config is None:
        return None if pending(props, "configurationValues") else False
    return isinstance(config, Mapping) and str(config.get(names.VPC_CNI_NETWORK_POLICY, "")).lower() == "true"


def _check_enforced(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    if not fleet.tenants:
        return
    cni = [a for a in fleet.of_type(resource_types.EKS_ADDON) if get(a.props, "addonName") == names.VPC_CNI_ADDON]
    if cni:
        for addon in cni:
            if _vpc_cni_enforces(addon.props) is False:
                yield addon.urn, (
                    f"the {names.VPC_CNI_ADDON} add-on does not enforce NetworkPolicies, on which tenant isolation "
                    f"relies: set its configuration {{\"{names.VPC_CNI_NETWORK_POLICY}\": \"true\"}}"
                )
        return
    declared = any(
        annotations(ns.props).get(names.NETWORK_POLICY_ENFORCED_ANNOTATION) == "true"
        for ns in fleet.of_type(resource_types.NAMESPACE)
        if get(ns.props, "metadata", "name") == names.SYSTEM_NAMESPACE
    )
    if not declared:
        yield None, (
            "tenants rely on NetworkPolicies, but nothing says this cluster's CNI enforces them: once it does "
            "(Calico, Cilium, the VPC CNI with network policy on), set cluster.networkPolicyEnforced: true"
        )


network_policy_enforced = stack_policy(
    name="network-policy-enforced",
    description="A stack with tenants runs on a cluster whose CNI enforces NetworkPolicies (the VPC CNI add-on's "
    "enableNetworkPolicy, or an existing cluster's declaration).",
    check=_check_enforced,
    severity=Severity.HIGH,
    remediation_steps="On EKS keep the vpc-cni add-on's enableNetworkPolicy \"true\" (the program sets it). On an existing "
    "cluster, run a CNI that enforces NetworkPolicies and set cluster.networkPolicyEnforced: true.",
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
    if resource_type == resource_types.ACCESS_POLICY_ASSOCIATION:
        policy_arn = str(get(props, "policyArn") or "")
        scope = get(props, "accessScope", "type")
        principal = get(props, "principalArn") or "the principal"
        if policy_arn.endswith(resource_types.EKS_CLUSTER_ADMIN_POLICY):
            yield f"{principal} is associated with {resource_types.EKS_CLUSTER_ADMIN_POLICY}: use AmazonEKSEditPolicy/AmazonEKSViewPolicy scoped to the tenant's namespace"
        elif scope == "cluster":
            yield f"{principal} gets {policy_arn.rsplit('/', 1)[-1]} cluster-wide: set accessScope {{type: namespace, namespaces: [<tenant>]}}"
        return
    role = get(props, "roleRef", "name")
    subjects = _human_subjects(props)
    if role == resource_types.CLUSTER_ADMIN_ROLE and subjects:
        yield f"{', '.join(subjects)} bound to {resource_types.CLUSTER_ADMIN_ROLE}: bind the namespace role admin, edit or view instead"
    elif resource_type == resource_types.CLUSTER_ROLE_BINDING and names.TENANT_LABEL in labels(props):
        yield (
            f"tenant '{labels(props)[names.TENANT_LABEL]}' gets ClusterRole {role} cluster-wide: use a RoleBinding in the "
            f"tenant's namespace instead"
        )


tenant_rbac_scoped = resource_policy(
    name="tenant-rbac-scoped",
    description="Tenant principals get namespace-scoped roles only: no cluster-admin, no tenant ClusterRoleBindings, no cluster-scoped EKS access policies.",
    types=[resource_types.ROLE_BINDING, resource_types.CLUSTER_ROLE_BINDING, resource_types.ACCESS_POLICY_ASSOCIATION],
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
        policies = fleet.in_namespace(resource_types.NETWORK_POLICY, tenant.namespace)
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
    enforce = tenant.labels.get(names.PSA_ENFORCE_LABEL)
    if enforce is None and get(props, "metadata", "labels") is None:
        return  # labels unknown during preview
    levels = resource_types.POD_SECURITY_LEVELS
    if enforce not in levels or levels.index(enforce) < levels.index(minimum):
        got = f"'{enforce}'" if enforce is not None else "not set"
        yield (
            f"tenant namespace '{tenant.namespace}' Pod Security enforce level is {got}: label it "
            f"{names.PSA_ENFORCE_LABEL}={minimum}"
        )


tenant_pod_security = resource_policy(
    name="tenant-pod-security",
    description="Tenant namespaces enforce Pod Security restricted (or the level minimumLevel allows).",
    types=[resource_types.NAMESPACE],
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
    if resource_type == resource_types.CONFIG_MAP:
        for key, config in sorted(device_plugin_configs(props).items()):
            if (config.get("sharing") or {}).get("mps"):
                yield (
                    f"device plugin config '{key}' enables MPS sharing (sharing.mps): MPS gives tenants no memory or "
                    f"fault isolation; use time-slicing within one tenant, MIG, or exclusive GPUs"
                )
    for pool in pools_of_resource(resource_type, props, urn, name):
        if pool.sharing == "mps":
            yield f"{pool.label} shares GPUs with MPS: use time-slicing, mig or exclusive"


no_mps_sharing = resource_policy(
    name="no-mps-sharing",
    description="No GPU is shared through CUDA MPS (no memory or fault isolation between tenants' processes).",
    types=POOL_RESOURCES,
    check=_check_mps,
    severity=Severity.HIGH,
    remediation_steps="Remove sharing.mps from device plugin configs; use sharing.mode exclusive, time-slicing or mig.",
)


POLICIES = [
    tenant_has_gpu_quota,
    tenant_quota_within_capacity,
    tenant_rbac_scoped,
    tenant_network_isolated,
    network_policy_enforced,
    tenant_pod_security,
    no_mps_sharing,
]
