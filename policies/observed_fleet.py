"""The fleet as the policies see it: node pools and tenants read back from resources.

Pools come from EKS node groups and Karpenter NodePools (their gpufleet.io labels, instance types and
taints) or, for existing clusters, from the gpu-system/gpufleet-node-pools inventory ConfigMap. Tenants are
Namespaces labelled gpufleet.io/tenant with their annotations. Whoever created the resources,
the same reading applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from core import names
from core.facts import Gpu, InstanceType, load_facts
from core.karpenter import CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, NODES_LIMIT
from core.mig import parse_config_label
from core.plan import SHARED_MODES, TIME_SLICING, Taint, devices_per_gpu, gpus_per_node, mig_devices_per_gpu

from . import resource_types
from .props import annotations, as_int, get, items, labels, mapping, parse_document, split_list


KARPENTER_POOL = "nodepool"  # a Pool's source when a Karpenter NodePool describes it


@dataclass
class Pool:
    name: str
    urn: str
    source: str  # "nodegroup", KARPENTER_POOL or "inventory"
    instance_types: list[str]
    gpu_model: Optional[str]
    driver: Optional[str]
    capacity: Optional[str]  # spot | on-demand | reserved
    workload: Optional[str]
    sharing: Optional[str]
    mig_profile: Optional[str]
    mig_profiles: tuple[str, ...]  # an explicit geometry (migProfiles), () for a uniform one
    replicas: Optional[int]  # time-slicing replicas, where the inventory says
    max_size: Optional[int]
    taints: list[Taint]
    labels: dict
    managed_by: Optional[str] = None
    min_size: Optional[int] = None  # a node group's scalingConfig.minSize

    @property
    def catalog(self) -> list[InstanceType]:
        facts = load_facts()
        return [t for name in self.instance_types if (t := facts.instance_type(name)) is not None]

    @property
    def gpu(self) -> Optional[Gpu]:
        if self.gpu_model:
            found = load_facts().gpu(self.gpu_model)
            if found is not None:
                return found
        catalog = self.catalog
        return catalog[0].gpu if catalog else None

    @property
    def is_gpu(self) -> bool:
        return bool(self.catalog) or self.labels.get(names.GPU_PRESENT_LABEL) == "true" or self.gpu_model is not None

    @property
    def gpus_per_node(self) -> Optional[int]:
        catalog = self.catalog
        return gpus_per_node(catalog) if catalog else None

    @property
    def devices_per_node(self) -> Optional[int]:
        """Devices a pod gets to itself per node: GPUs, or MIG instances (as core.plan.PoolPlan.devices)."""
        catalog = self.catalog
        if not catalog:
            return None
        geometry = mig_devices_per_gpu(catalog, self.sharing, self.mig_profile, self.mig_profiles)
        return gpus_per_node(catalog) * devices_per_gpu(geometry)

    @property
    def units_at_max(self) -> Optional[int]:
        """GPU units at max size: devices, x replicas under time-slicing (what pods request and queues count);
        None when not known."""
        per_node = self.devices_per_node
        if per_node is None or self.max_size is None:
            return None
        if self.sharing == TIME_SLICING:
            return None if self.replicas is None else self.max_size * per_node * self.replicas
        return self.max_size * per_node

    @property
    def shared(self) -> bool:
        """Time-slicing or MIG: more units than GPUs (as core.plan.PoolPlan.shared)."""
        return self.sharing in SHARED_MODES

    @property
    def label(self) -> str:
        return f"pool '{self.name}'"


@dataclass
class Tenant:
    name: str
    namespace: Optional[str]
    urn: str
    pools: list[str]
    cuda_versions: list[str]
    priority: Optional[str]
    isolation: list[str]
    labels: dict


@dataclass
class Fleet:
    """Pools, tenants and the stack's resources, indexed once by type and by (type, namespace)."""

    pools: dict[str, Pool] = field(default_factory=dict)
    tenants: list[Tenant] = field(default_factory=list)
    resources: list[Any] = field(default_factory=list)
    by_type: dict[str, list[Any]] = field(default_factory=dict)
    inventory_order: list[str] = field(default_factory=list)
    """Pool names in the inventory ConfigMap's order (the spec's order), where the stack has one."""
    _by_namespace: Optional[dict[tuple[str, str], list[Any]]] = field(default=None, repr=False)

    def of_type(self, resource_type: str) -> list[Any]:
        return self.by_type.get(resource_type, [])

    def in_namespace(self, resource_type: str, namespace: Optional[str]) -> list[Any]:
        """Resources of the type in the namespace (none given: "default"), in stack order."""
        if self._by_namespace is None:
            index: dict[tuple[str, str], list[Any]] = {}
            for r in self.resources:
                index.setdefault((r.resource_type, get(r.props, "metadata", "namespace") or "default"), []).append(r)
            self._by_namespace = index
        return self._by_namespace.get((resource_type, namespace), [])


def _taints(raw: Iterable[Any]) -> list[Taint]:
    found = []
    for taint in raw:
        key = get(taint, "key")
        if key is None:
            continue
        found.append(Taint.of(str(key), str(get(taint, "value") or ""), str(get(taint, "effect") or "")))
    return found


def mig_geometry_of(pool_labels: dict) -> tuple[Optional[str], tuple[str, ...]]:
    """(migProfile, migProfiles) as the pool's nvidia.com/mig.config label names them (core.mig.config_label)."""
    return parse_config_label(str(pool_labels.get(names.MIG_CONFIG_LABEL, "")))


def node_group_capacity(capacity_type: Any, label: Optional[str]) -> str:
    """A node group's capacity: its capacityType, where the fleet's capacity label only tells an ODCR pool (an
    ON_DEMAND group whose launch template targets a reservation) from a plain on-demand one."""
    if capacity_type is None:
        return label or names.ON_DEMAND  # EKS defaults to ON_DEMAND
    capacity_type = str(capacity_type).upper()
    if capacity_type == names.SPOT_CAPACITY_TYPE:
        return names.SPOT
    if capacity_type == names.CAPACITY_BLOCK_CAPACITY_TYPE:
        return names.RESERVED
    return names.RESERVED if label == names.RESERVED else names.ON_DEMAND


def node_pool_capacity(capacity_types: list[str]) -> str:
    """A NodePool's capacity: spot when it may launch spot at all (Karpenter picks the capacity type per node from
    what the requirements allow, every offering where they do not say: sigs.k8s.io/karpenter pkg/cloudprovider/
    types.go Offerings.Compatible), reserved when it may launch into reservations only."""
    if names.SPOT in capacity_types or not capacity_types:
        return names.SPOT
    return names.RESERVED if set(capacity_types) == {names.RESERVED} else names.ON_DEMAND


def pool_from_node_group(resource_type: str, props: Any, urn: str, name: str) -> Pool:
    lbl = mapping(props, "labels")
    mig_profile, mig_profiles = mig_geometry_of(lbl)
    capacity = node_group_capacity(get(props, "capacityType"), lbl.get(names.CAPACITY_LABEL))
    return Pool(
        name=lbl.get(names.POOL_LABEL) or get(props, "nodeGroupName") or name,
        urn=urn,
        source="nodegroup",
        instance_types=[str(t) for t in items(props, "instanceTypes")],
        gpu_model=lbl.get(names.GPU_LABEL),
        driver=lbl.get(names.DRIVER_LABEL),
        capacity=capacity,
        workload=lbl.get(names.WORKLOAD_LABEL),
        sharing=lbl.get(names.SHARING_LABEL),
        mig_profile=mig_profile,
        mig_profiles=mig_profiles,
        replicas=None,
        max_size=as_int(get(props, "scalingConfig", "maxSize")),
        min_size=as_int(get(props, "scalingConfig", "minSize")),
        taints=_taints(items(props, "taints")),
        labels=lbl,
        managed_by=names.MANAGED_BY,
    )


def _requirement(props: Any, key: str) -> list[str]:
    """The values a NodePool's template requires of a label (operator In), [] where it does not say."""
    for requirement in items(get(props, "spec", "template", "spec"), "requirements"):
        if get(requirement, "key") == key and get(requirement, "operator") == "In":
            return [str(v) for v in items(requirement, "values")]
    return []


def pool_from_node_pool(resource_type: str, props: Any, urn: str, name: str) -> Pool:
    """A Karpenter NodePool as a pool: its nodes' labels and taints are the template's, its size is limits.nodes,
    its capacity what its requirements allow (node_pool_capacity)."""
    lbl = mapping(get(props, "spec", "template", "metadata"), "labels")
    mig_profile, mig_profiles = mig_geometry_of(lbl)
    capacity_types = _requirement(props, CAPACITY_TYPE_LABEL)
    return Pool(
        name=lbl.get(names.POOL_LABEL) or get(props, "metadata", "name") or name,
        urn=urn,
        source=KARPENTER_POOL,
        instance_types=_requirement(props, INSTANCE_TYPE_LABEL),
        gpu_model=lbl.get(names.GPU_LABEL),
        driver=lbl.get(names.DRIVER_LABEL),
        capacity=node_pool_capacity(capacity_types),
        workload=lbl.get(names.WORKLOAD_LABEL),
        sharing=lbl.get(names.SHARING_LABEL),
        mig_profile=mig_profile,
        mig_profiles=mig_profiles,
        replicas=None,
        max_size=as_int(get(props, "spec", "limits", NODES_LIMIT)),
        taints=_taints(items(get(props, "spec", "template", "spec"), "taints")),
        labels=lbl,
        managed_by=names.MANAGED_BY,
    )


def is_pool_inventory(props: Any) -> bool:
    return get(props, "metadata", "name") == names.POOL_INVENTORY_CONFIGMAP and (
        get(props, "metadata", "namespace") in (None, names.SYSTEM_NAMESPACE)
    )


def pools_from_inventory(props: Any, urn: str) -> list[Pool]:
    """The pools of the inventory ConfigMap (data key pools.json); [] when unknown or malformed."""
    entries = parse_document(get(props, "data", names.POOL_INVENTORY_KEY))
    if not isinstance(entries, list):
        return []
    pools = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        lbl = dict(entry.get("labels") or {})
        sharing = entry.get("sharing") or {}
        labelled_profile, labelled_profiles = mig_geometry_of(lbl)
        pools.append(
            Pool(
                name=str(entry["name"]),
                urn=urn,
                source="inventory",
                instance_types=[str(t) for t in entry.get("instanceTypes") or []],
                gpu_model=entry.get("gpu") or lbl.get(names.GPU_LABEL),
                driver=entry.get("driverVersion") or lbl.get(names.DRIVER_LABEL),
                capacity=entry.get("capacity") or node_group_capacity(entry.get("capacityType"), None),
                workload=entry.get("workload") or lbl.get(names.WORKLOAD_LABEL),
                sharing=sharing.get("mode") or lbl.get(names.SHARING_LABEL),
                mig_profile=sharing.get("migProfile") or labelled_profile,
                mig_profiles=tuple(sorted(str(p) for p in items(sharing, "migProfiles"))) or labelled_profiles,
                replicas=as_int(sharing.get("replicas")),
                max_size=as_int(entry.get("maxSize")),
                taints=_taints(entry.get("taints") or []),
                labels=lbl,
                managed_by=entry.get("managedBy"),
            )
        )
    return pools


def pools_of_resource(resource_type: str, props: Any, urn: str, name: str) -> list[Pool]:
    """The pools a resource describes: a node group, or the inventory's pools whose nodes this stack
    does not create (those are judged through their node groups)."""
    if resource_type == resource_types.NODE_GROUP:
        return [pool_from_node_group(resource_type, props, urn, name)]
    if resource_type == resource_types.NODE_POOL:
        return [pool_from_node_pool(resource_type, props, urn, name)]
    if resource_type == resource_types.CONFIG_MAP and is_pool_inventory(props):
        return [p for p in pools_from_inventory(props, urn) if p.managed_by != names.MANAGED_BY]
    return []


def device_plugin_configs(props: Any) -> dict[str, dict]:
    """Device plugin configs in a ConfigMap (data entries with `version: v1` and flags/sharing)."""
    found = {}
    for key, text in mapping(props, "data").items():
        document = parse_document(text)
        if isinstance(document, dict) and document.get("version") == "v1" and ("sharing" in document or "flags" in document):
            found[str(key).removesuffix(".yaml").removesuffix(".yml")] = document
    return found


def tenant_from_namespace(props: Any, urn: str) -> Optional[Tenant]:
    lbl = labels(props)
    name = lbl.get(names.TENANT_LABEL)
    if not name:
        return None
    notes = annotations(props)
    return Tenant(
        name=str(name),
        namespace=get(props, "metadata", "name") or str(name),
        urn=urn,
        pools=split_list(notes.get(names.POOLS_ANNOTATION)),
        cuda_versions=split_list(notes.get(names.CUDA_ANNOTATION)),
        priority=notes.get(names.PRIORITY_ANNOTATION),
        isolation=split_list(notes.get(names.ISOLATION_ANNOTATION)),
        labels=lbl,
    )


# The fleet of the resources last read, so that the stack policies of one evaluation (which
# `gpufleet check` hands the same resource objects) share one reading and one index. The engine
# hands each policy freshly deserialized objects, which simply miss. Keyed on the objects'
# identities; the list is held, so the identities stay theirs.
_last: tuple[tuple[int, ...], list[Any], Fleet] | None = None


def fleet_of(resources: list[Any]) -> Fleet:
    """Pools (node groups first, then inventory pools not already known) and tenants of a stack."""
    global _last
    key = tuple(map(id, resources))
    if _last is not None and _last[0] == key:
        return _last[2]
    fleet = _read_fleet(list(resources))
    _last = (key, fleet.resources, fleet)
    return fleet


def _read_fleet(resources: list[Any]) -> Fleet:
    fleet = Fleet(resources=resources)
    for r in resources:
        fleet.by_type.setdefault(r.resource_type, []).append(r)
    for r in fleet.of_type(resource_types.NODE_GROUP):
        pool = pool_from_node_group(r.resource_type, r.props, r.urn, r.name)
        fleet.pools.setdefault(pool.name, pool)
    for r in fleet.of_type(resource_types.NODE_POOL):
        pool = pool_from_node_pool(r.resource_type, r.props, r.urn, r.name)
        fleet.pools.setdefault(pool.name, pool)
    for r in resources:
        if r.resource_type == resource_types.CONFIG_MAP and is_pool_inventory(r.props):
            for pool in pools_from_inventory(r.props, r.urn):
                known_pool = fleet.pools.setdefault(pool.name, pool)
                if known_pool.replicas is None:  # a node group does not say; the inventory does
                    known_pool.replicas = pool.replicas
                fleet.inventory_order.append(pool.name)
        elif r.resource_type == resource_types.NAMESPACE:
            tenant = tenant_from_namespace(r.props, r.urn)
            if tenant is not None:
                fleet.tenants.append(tenant)
    return fleet


def tenant_pools(fleet: Fleet, tenant: Tenant) -> list[Pool]:
    """The known pools a tenant may use (pools the stack does not describe are skipped)."""
    return [fleet.pools[name] for name in tenant.pools if name in fleet.pools]


def quota_of(fleet: Fleet, tenant: Tenant) -> tuple[Optional[Any], Optional[int]]:
    """The ResourceQuota holding requests.nvidia.com/gpu in the tenant's namespace, and its value."""
    for quota in fleet.in_namespace(resource_types.RESOURCE_QUOTA, tenant.namespace):
        hard = mapping(quota.props, "spec", "hard")
        if names.GPU_QUOTA_RESOURCE in hard:
            return quota, as_int(hard[names.GPU_QUOTA_RESOURCE])
    return None, None


@dataclass
class Queue:
    """A ClusterQueue or a Cohort of Kueue: its GPU quotas per flavor (the pool the flavor is named after)."""

    name: str
    urn: str
    kind: str  # ClusterQueue or Cohort
    tenant: Optional[str]
    """The tenant a ClusterQueue belongs to (its gpufleet.io/tenant label)."""
    cohort: Optional[str]
    nominal: dict[str, Optional[int]]
    """Flavor -> nominal GPU units (the largest over its GPU resources); None when not known."""
    borrowing_limits: dict[str, list[Optional[int]]]
    """Flavor -> the borrowingLimit of each GPU resource (None: unset)."""
    over_lent: list[str]
    """'flavor/resource' where lendingLimit exceeds nominalQuota."""


def _is_gpu_resource(name: str) -> bool:
    return name == names.GPU_RESOURCE or name.startswith(names.MIG_RESOURCE_PREFIX)


def queue_of_resource(resource_type: str, props: Any, urn: str, name: str) -> Queue:
    nominal: dict[str, Optional[int]] = {}
    limits: dict[str, list[Optional[int]]] = {}
    over_lent = []
    for group in items(props, "spec", "resourceGroups"):
        for flavor in items(group, "flavors"):
            flavor_name = str(get(flavor, "name"))
            for quota in items(flavor, "resources"):
                resource, amount = str(get(quota, "name")), as_int(get(quota, "nominalQuota"))
                lending = as_int(get(quota, "lendingLimit"))
                if lending is not None and amount is not None and lending > amount:
                    over_lent.append(f"{flavor_name}/{resource}")
                if not _is_gpu_resource(resource):
                    continue
                known_so_far = nominal.get(flavor_name, 0)
                nominal[flavor_name] = None if amount is None or known_so_far is None else max(known_so_far, amount)
                limits.setdefault(flavor_name, []).append(as_int(get(quota, "borrowingLimit")))
    kind = "Cohort" if resource_type == resource_types.COHORT else "ClusterQueue"
    return Queue(
        name=get(props, "metadata", "name") or name,
        urn=urn,
        kind=kind,
        tenant=labels(props).get(names.TENANT_LABEL),
        cohort=get(props, "spec", "cohortName"),
        nominal=nominal,
        borrowing_limits=limits,
        over_lent=over_lent,
    )


def queues_of(fleet: Fleet) -> list[Queue]:
    """The stack's ClusterQueues, then its Cohorts."""
    return [
        queue_of_resource(r.resource_type, r.props, r.urn, r.name)
        for kind in (resource_types.CLUSTER_QUEUE, resource_types.COHORT)
        for r in fleet.of_type(kind)
    ]


def tenant_gpu_quota(fleet: Fleet, tenant: Tenant) -> tuple[Optional[Any], Optional[int]]:
    """The resource that states the tenant's GPU quota and its value: its ClusterQueue's nominal quotas where
    it has one (its ResourceQuota is then the queue's ceiling), else its ResourceQuota (quota_of)."""
    for r in fleet.of_type(resource_types.CLUSTER_QUEUE):
        if labels(r.props).get(names.TENANT_LABEL) == tenant.name:
            nominal = queue_of_resource(r.resource_type, r.props, r.urn, r.name).nominal.values()
            return r, None if None in nominal else sum(nominal)
    return quota_of(fleet, tenant)
