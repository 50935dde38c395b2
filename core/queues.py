"""Fair sharing between tenants: how a fleet's GPUs are shared through Kueue's queues. Pure.

Kueue (sigs.k8s.io/kueue) admits a Job when the ClusterQueue of its LocalQueue has quota for every
resource its pods request, in one ResourceFlavor per resource group; a ClusterQueue may borrow what
the other members of its cohort leave unused, and gives it back by preemption. The fleet maps onto it:

- a ResourceFlavor per pool, named as the pool: the pool label as its node label, the pool's taints
  as its tolerations (Kueue adds both to an admitted Job's pods);
- a cohort per set of pools that tenants share (a connected set of the tenants' pool sets, as
  core.capacity groups them): every tenant of a pool is in the pool's cohort, so a pool's whole
  capacity is shared inside one cohort. Its Cohort object holds, as its own nominal quota, the
  capacity of its pools that no tenant's nominal quota claims: idle GPUs anyone in it may borrow;
- a ClusterQueue per tenant, named as the tenant: its GPU resources (and EFA devices) over the
  flavors of its pools, and cpu and memory, which are not shared, over one flavor without labels;
- the tenant's gpuQuota is split over its pools first-fit: in the order the tenant lists them, each
  pool gives what its capacity at max size has left after the tenants listed before (spec order);
  what fits nowhere lands on its last pool, where the queues-within-capacity policy reports it.

A pool's capacity is its GPU units at max size: GPUs, MIG instances on a MIG pool, GPUs x replicas
under time-slicing (the units pods request and the ResourceQuota counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Optional, Sequence

from .names import EFA_RESOURCE, POOL_LABEL
from .plan import PoolPlan, efa_quota
from .spec import FleetSpec, TenantSpec

# The flavor of every ClusterQueue's cpu and memory: no node labels, so it fits any node of the pools.
CPU_MEMORY_FLAVOR = "gpufleet-cpu-memory"
CPU_MEMORY = ("cpu", "memory")
# A ClusterQueue must cover every resource its pods request (Kueue v0.17.0 pkg/scheduler/flavorassigner/
# flavorassigner.go: "resource %s unavailable in ClusterQueue"), pods request cpu and memory, and a quota is a
# number: where a tenant sets no cpuQuota or memoryQuota (its namespace has no such limit), its queue gets an
# amount no cluster has, so that only its GPUs are queued.
UNLIMITED = {"cpu": "1M", "memory": "1Pi"}
# The Topology of EFA pools' flavors: EC2's network hierarchy as EKS labels nodes, coarsest first, then the
# node (EKS user guide, "Place distributed AI/ML workloads with network topology labels",
# docs.aws.amazon.com/eks/latest/userguide/ml-workload-topology.html; Kueue v0.17.0 apis/kueue/v1beta2/
# topology_types.go: kubernetes.io/hostname only as the last level).
EFA_TOPOLOGY = "gpufleet-aws-network"
EFA_TOPOLOGY_LEVELS = (
    "topology.k8s.aws/network-node-layer-1",
    "topology.k8s.aws/network-node-layer-2",
    "topology.k8s.aws/network-node-layer-3",
    "kubernetes.io/hostname",
)
COHORT_SUFFIX = "-cohort"


@dataclass(frozen=True)
class ResourceQuota:
    """One resource of one flavor in a ClusterQueue or a Cohort (Kueue's ResourceQuota)."""

    resource: str
    nominal: int
    borrowing_limit: Optional[int] = None
    """Units it may borrow beyond nominal; None: as much as the cohort has idle."""
    lending_limit: Optional[int] = None
    """Units of nominal the cohort may borrow; None: all of it."""


@dataclass(frozen=True)
class FlavorQuotas:
    """A queue's quotas in one pool's flavor, one per covered resource, in the covered order."""

    pool: str
    quotas: tuple[ResourceQuota, ...]

    def nominal(self, resource: str) -> int:
        return next((q.nominal for q in self.quotas if q.resource == resource), 0)


@dataclass(frozen=True)
class FlavorPlan:
    """The ResourceFlavor of one pool."""

    name: str
    node_labels: Mapping[str, str]
    tolerations: tuple[dict, ...]
    topology: Optional[str]
    """EFA_TOPOLOGY on an EFA pool (multi-node jobs placed close together), else None."""


@dataclass(frozen=True)
class TenantQueue:
    """A tenant's ClusterQueue (and its LocalQueue of the same name in the tenant's namespace)."""

    tenant: str
    cohort: str
    covered: tuple[str, ...]
    """The GPU resources of its pools, then EFA where it has an EFA pool: every flavor lists them in this order."""
    flavors: tuple[FlavorQuotas, ...]
    """One per pool of the tenant, in its order."""
    cpu: str
    memory: str
    weight: float
    ceiling: Mapping[str, int]
    """Resource -> the most the tenant can hold at once: nominal plus borrowing limit, at most its pools'
    capacity (the namespace ResourceQuota's hard limit)."""

    @property
    def name(self) -> str:
        return self.tenant

    def nominal(self, pool: str) -> int:
        """Its nominal GPU units in `pool` (each of the pool's GPU resources carries the same)."""
        flavor = next(f for f in self.flavors if f.pool == pool)
        return max((q.nominal for q in flavor.quotas if q.resource != EFA_RESOURCE), default=0)


@dataclass(frozen=True)
class CohortPlan:
    name: str
    pools: tuple[str, ...]
    """In spec order."""
    tenants: tuple[str, ...]
    """In spec order."""
    covered: tuple[str, ...]
    capacity: Mapping[str, Mapping[str, int]]
    """Pool -> resource -> units at max size."""
    idle: tuple[FlavorQuotas, ...]
    """The Cohort's own nominal quota: per pool, the capacity no member's nominal quota claims."""

    def gpus(self, pool: str) -> int:
        """The pool's GPU units at max size (over all its GPU resources)."""
        return sum(units for r, units in self.capacity[pool].items() if r != EFA_RESOURCE)


@dataclass(frozen=True)
class QueuePlan:
    flavors: tuple[FlavorPlan, ...]
    """One per pool some tenant uses, in spec order."""
    cohorts: tuple[CohortPlan, ...]
    tenants: tuple[TenantQueue, ...]
    """In spec order."""
    require_queue_name: bool

    def tenant(self, name: str) -> TenantQueue:
        return next(t for t in self.tenants if t.tenant == name)

    def cohort_of(self, tenant: str) -> CohortPlan:
        return next(c for c in self.cohorts if tenant in c.tenants)

    @property
    def topology_needed(self) -> bool:
        return any(f.topology for f in self.flavors)


def pool_capacity(pool: PoolPlan) -> dict[str, int]:
    """Resource -> units the pool has at max size: each GPU resource, and EFA devices on an EFA pool."""
    capacity = {r: units * pool.max_size for r, units in pool.gpu_resources.items()}
    if pool.efa:
        capacity[EFA_RESOURCE] = pool.efa_interfaces * pool.max_size
    return capacity


def _gpu_units(pool: PoolPlan) -> int:
    return sum(pool.gpu_resources.values()) * pool.max_size


def nominal_split(tenants: Sequence[TenantSpec], pools: Mapping[str, PoolPlan]) -> dict[str, dict[str, int]]:
    """Tenant -> pool -> nominal GPU units: each gpuQuota first-fit over the tenant's pools (module docstring)."""
    free = {name: _gpu_units(pool) for name, pool in pools.items()}
    split: dict[str, dict[str, int]] = {}
    for tenant in tenants:
        left, shares = tenant.gpu_quota, {}
        for i, name in enumerate(tenant.pools):
            take = left if i == len(tenant.pools) - 1 else min(left, free[name])
            shares[name] = take
            free[name] = max(0, free[name] - take)
            left -= take
        split[tenant.name] = shares
    return split


def _cohorts(tenants: Sequence[TenantSpec], order: Mapping[str, int]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(pools, tenants) of each connected set of the tenants' pool sets, in order of first appearance."""
    groups: list[tuple[set[str], list[str]]] = []
    for tenant in tenants:
        pools, members = set(tenant.pools), [tenant.name]
        for other in [g for g in groups if g[0] & pools]:
            groups.remove(other)
            pools |= other[0]
            members = other[1] + members
        groups.append((pools, members))
    first = {name: i for i, name in enumerate(t.name for t in tenants)}
    groups.sort(key=lambda g: min(first[m] for m in g[1]))
    return [
        (tuple(sorted(pools, key=order.__getitem__)), tuple(sorted(members, key=first.__getitem__)))
        for pools, members in groups
    ]


def cohort_name(pools: Sequence[str]) -> str:
    """Named after its first pool in spec order (pool names are unique DNS labels)."""
    return f"{pools[0]}{COHORT_SUFFIX}"


def _covered(pools: Sequence[PoolPlan]) -> tuple[str, ...]:
    resources = sorted({r for pool in pools for r in pool.gpu_resources})
    return (*resources, *((EFA_RESOURCE,) if any(p.efa for p in pools) else ()))


def _tenant_quotas(
    tenant: TenantSpec, pool: PoolPlan, share: int, covered: Sequence[str]
) -> FlavorQuotas:
    limit, lend = tenant.queue.borrowing_limit, tenant.queue.lending_limit
    capacity = pool_capacity(pool)
    quotas = []
    for resource in covered:
        if resource not in capacity:
            quotas.append(ResourceQuota(resource, 0))
        elif resource == EFA_RESOURCE:
            nominal = efa_quota(share, pool)
            quotas.append(ResourceQuota(
                resource, nominal,
                None if limit is None else efa_quota(limit, pool),
                None if lend is None else efa_quota(min(lend, share), pool),
            ))
        else:
            quotas.append(ResourceQuota(resource, share, limit, None if lend is None else min(lend, share)))
    return FlavorQuotas(pool.name, tuple(quotas))


def _ceiling(flavors: Sequence[FlavorQuotas], pools: Mapping[str, PoolPlan]) -> dict[str, int]:
    """Per resource, over the tenant's pools: nominal + borrowing limit, at most what the pool has."""
    ceiling: dict[str, int] = {}
    for flavor in flavors:
        capacity = pool_capacity(pools[flavor.pool])
        for quota in flavor.quotas:
            if quota.resource not in capacity:
                continue
            most = capacity[quota.resource] if quota.borrowing_limit is None else quota.nominal + quota.borrowing_limit
            ceiling[quota.resource] = ceiling.get(quota.resource, 0) + max(quota.nominal, min(most, capacity[quota.resource]))
    return dict(sorted(ceiling.items()))


def _idle(pools: Sequence[PoolPlan], covered: Sequence[str], members: Sequence[TenantQueue]) -> tuple[FlavorQuotas, ...]:
    idle = []
    for pool in pools:
        capacity = pool_capacity(pool)
        claimed = {
            r: sum(f.nominal(r) for t in members for f in t.flavors if f.pool == pool.name) for r in covered
        }
        idle.append(FlavorQuotas(pool.name, tuple(
            ResourceQuota(r, max(0, capacity.get(r, 0) - claimed[r])) for r in covered
        )))
    return tuple(idle)


def plan_queues(spec: FleetSpec, pools: Sequence[PoolPlan]) -> Optional[QueuePlan]:
    """The fleet's queues, or None when queues are off."""
    if not spec.queues.enabled:
        return None
    by_name = {p.name: p for p in pools}
    order = {p.name: i for i, p in enumerate(pools)}
    split = nominal_split(spec.tenants, by_name)
    groups = _cohorts(spec.tenants, order)
    cohort_of = {tenant: cohort_name(group_pools) for group_pools, members in groups for tenant in members}
    queues = []
    for tenant in spec.tenants:
        covered = _covered([by_name[name] for name in tenant.pools])
        flavors = tuple(
            _tenant_quotas(tenant, by_name[name], split[tenant.name][name], covered) for name in tenant.pools
        )
        queues.append(TenantQueue(
            tenant=tenant.name,
            cohort=cohort_of[tenant.name],
            covered=covered,
            flavors=flavors,
            cpu=UNLIMITED["cpu"] if tenant.cpu_quota is None else str(tenant.cpu_quota),
            memory=UNLIMITED["memory"] if tenant.memory_quota is None else str(tenant.memory_quota),
            weight=tenant.queue.weight,
            ceiling=MappingProxyType(_ceiling(flavors, by_name)),
        ))
    cohorts = []
    for group_pools, members in groups:
        plans = [by_name[name] for name in group_pools]
        covered = _covered(plans)
        cohorts.append(CohortPlan(
            name=cohort_name(group_pools),
            pools=group_pools,
            tenants=members,
            covered=covered,
            capacity=MappingProxyType({p.name: MappingProxyType(pool_capacity(p)) for p in plans}),
            idle=_idle(plans, covered, [q for q in queues if q.tenant in members]),
        ))
    used = {name for tenant in spec.tenants for name in tenant.pools}
    flavors = tuple(
        FlavorPlan(
            name=pool.name,
            node_labels=MappingProxyType({POOL_LABEL: pool.name}),
            tolerations=tuple(pool.tolerations),
            topology=EFA_TOPOLOGY if pool.efa else None,
        )
        for pool in pools
        if pool.name in used
    )
    return QueuePlan(
        flavors=flavors, cohorts=tuple(cohorts), tenants=tuple(queues), require_queue_name=spec.queues.require_queue_name
    )


def fair_share_report(queues: Optional[QueuePlan]) -> Optional[dict]:
    """The `fairSharing` object of `gpufleet plan --format json`; None when queues are off."""
    if queues is None:
        return None

    def limits(queue: TenantQueue, flavor: FlavorQuotas) -> dict:
        gpu = next(q for q in flavor.quotas if q.resource != EFA_RESOURCE)
        return {
            "pool": flavor.pool,
            "nominal": queue.nominal(flavor.pool),
            "borrowingLimit": gpu.borrowing_limit,
            "lendingLimit": gpu.lending_limit,
        }

    return {
        "tenants": [
            {
                "name": q.tenant,
                "cohort": q.cohort,
                "weight": q.weight,
                "pools": [limits(q, f) for f in q.flavors],
                "ceiling": dict(q.ceiling),
            }
            for q in queues.tenants
        ],
        "cohorts": [
            {
                "name": c.name,
                "pools": list(c.pools),
                "tenants": list(c.tenants),
                "gpusAtMax": {p: c.gpus(p) for p in c.pools},
                "idle": {f.pool: max((q.nominal for q in f.quotas if q.resource != EFA_RESOURCE), default=0) for f in c.idle},
            }
            for c in queues.cohorts
        ],
    }
