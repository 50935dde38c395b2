"""GPU capacity against tenant quotas: how many GPUs the pools provide, and who is promised them.

Pure functions, no Pulumi. `gpufleet plan` reports `quota_capacity_groups(plan)`; the
`tenant-quota-within-capacity` policy reads the same facts back from the resources (node groups
or the pool inventory, tenant namespaces and quotas) and calls `capacity_groups` too, so the
groups the plan flags are the groups the policy reports.

GPUs are the devices a pod gets to itself at a pool's max size: max nodes x the GPUs every node
of the pool has (the smallest of its instance types), and on a MIG pool x the MIG instances each
GPU is partitioned into (what the device plugin advertises: core.plan.mig_devices_per_gpu).
Time-slicing advertises more units than that, all sharing one GPU; `shared_gpus` says where,
so a caller may allow a higher ratio there.

A *group* is a set of pools some tenant may use. The tenants of a group are those whose pools
all lie in it: their quotas can only be met from the group's GPUs, so
ratio = sum of their quotas / GPUs of the group at max size, and a ratio above the threshold
(default 1.0) means the quotas cannot all be granted at once. Besides each tenant's own pool
set, every connected set of overlapping pool sets is a group too (two tenants on {a, b} and
{b, c} compete for a, b and c together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .plan import TIME_SLICING, FleetPlan

DEFAULT_MAX_RATIO = 1.0


@dataclass(frozen=True)
class GpuSupply:
    """GPUs of one model and capacity type, at each size of the pools providing them."""

    gpu: str
    capacity: str
    pools: tuple[str, ...]
    at_min: int
    at_desired: int
    at_max: int


@dataclass(frozen=True)
class QuotaCapacityGroup:
    pools: tuple[str, ...]
    """The group's pools, in spec order."""
    tenants: tuple[str, ...]
    """Tenants whose pools all lie in the group."""
    quota: int
    """Sum of those tenants' GPU quotas."""
    gpus_at_max: int
    gpus_by_model: dict[str, int]
    shared_gpus: bool
    """Some pool of the group time-slices its GPUs (more units than devices)."""
    ratio: Optional[float]
    """quota / gpus_at_max; None when the group has no GPUs."""
    oversubscribed: bool
    """ratio above the threshold (or quota on no GPUs); never when `judged` is false."""
    judged: bool = True
    """Every pool's GPUs and every tenant's quota are known (the policy may not know them in preview)."""


@dataclass(frozen=True)
class PoolGpus:
    """What grouping needs to know of a pool."""

    name: str
    gpus_at_max: Optional[int]
    """Devices at max size (GPUs, MIG instances on a MIG pool); None when not known."""
    model: Optional[str]
    shared: bool
    """Time-slicing: more units than devices."""


@dataclass(frozen=True)
class TenantQuota:
    name: str
    quota: Optional[int]
    """The GPU quota; None when not known."""
    pools: tuple[str, ...]


def gpu_supply(plan: FleetPlan) -> list[GpuSupply]:
    """GPUs per GPU model and capacity type (on-demand, spot, reserved), in spec order of first appearance."""
    supply: dict[tuple[str, str], dict] = {}
    for pool in plan.pools:
        entry = supply.setdefault((pool.gpu, pool.capacity), {"pools": [], "min": 0, "desired": 0, "max": 0})
        entry["pools"].append(pool.name)
        entry["min"] += pool.gpus(pool.min_size)
        entry["desired"] += pool.gpus(pool.desired_size)
        entry["max"] += pool.gpus(pool.max_size)
    return [
        GpuSupply(gpu=gpu, capacity=capacity, pools=tuple(e["pools"]), at_min=e["min"], at_desired=e["desired"], at_max=e["max"])
        for (gpu, capacity), e in supply.items()
    ]


def _pool_sets(tenants: Sequence[TenantQuota], known: set[str]) -> list[frozenset[str]]:
    """Each distinct tenant pool set, then each connected union of them not already listed."""
    sets: list[frozenset[str]] = []
    seen: set[frozenset[str]] = set()
    for tenant in tenants:
        pools = frozenset(p for p in tenant.pools if p in known)
        if pools and pools not in seen:
            seen.add(pools)
            sets.append(pools)
    components: list[frozenset[str]] = []
    for pools in sets:
        merged = pools
        for other in [c for c in components if c & merged]:
            components.remove(other)
            merged |= other
        components.append(merged)
    return sets + [c for c in components if c not in seen]


def capacity_groups(
    pools: Sequence[PoolGpus], tenants: Sequence[TenantQuota], max_ratio: float = DEFAULT_MAX_RATIO
) -> list[QuotaCapacityGroup]:
    """Every pool group (see the module docstring) with its confined tenants, quota sum and ratio.

    `pools` in the order groups list them. A group with a pool of unknown GPUs or a tenant of
    unknown quota is listed but not judged.
    """
    order = {p.name: i for i, p in enumerate(pools)}
    by_name = {p.name: p for p in pools}
    groups = []
    for pool_set in _pool_sets(tenants, set(by_name)):
        names = tuple(sorted(pool_set, key=order.__getitem__))
        confined = [t for t in tenants if t.pools and pool_set.issuperset(t.pools)]
        by_model: dict[str, int] = {}
        for name in names:
            pool = by_name[name]
            if pool.gpus_at_max is not None:
                model = pool.model or "?"
                by_model[model] = by_model.get(model, 0) + pool.gpus_at_max
        judged = all(by_name[n].gpus_at_max is not None for n in names) and all(t.quota is not None for t in confined)
        gpus = sum(by_model.values())
        quota = sum(t.quota or 0 for t in confined)
        ratio = quota / gpus if gpus and judged else None
        groups.append(
            QuotaCapacityGroup(
                pools=names,
                tenants=tuple(t.name for t in confined),
                quota=quota,
                gpus_at_max=gpus,
                gpus_by_model=by_model,
                shared_gpus=any(by_name[n].shared for n in names),
                ratio=ratio,
                oversubscribed=judged and ((ratio > max_ratio) if ratio is not None else quota > 0),
                judged=judged,
            )
        )
    return groups


def quota_capacity_groups(plan: FleetPlan, max_ratio: float = DEFAULT_MAX_RATIO) -> list[QuotaCapacityGroup]:
    """The groups of the plan's pools and tenants (`capacity_groups`), pools in spec order."""
    pools = [
        PoolGpus(name=p.name, gpus_at_max=p.devices(p.max_size), model=p.gpu, shared=p.sharing.mode == TIME_SLICING)
        for p in plan.pools
    ]
    tenants = [TenantQuota(t.name, t.gpu_quota, t.pools) for t in plan.tenants]
    return capacity_groups(pools, tenants, max_ratio)


def capacity_report(plan: FleetPlan, max_ratio: float = DEFAULT_MAX_RATIO) -> dict:
    """The `capacity` object of `gpufleet plan --format json`."""
    return {
        "maxRatio": max_ratio,
        "gpus": [
            {
                "gpu": s.gpu,
                "capacity": s.capacity,
                "pools": list(s.pools),
                "min": s.at_min,
                "desired": s.at_desired,
                "max": s.at_max,
            }
            for s in gpu_supply(plan)
        ],
        "groups": [
            {
                "pools": list(g.pools),
                "tenants": list(g.tenants),
                "quota": g.quota,
                "gpusAtMax": g.gpus_at_max,
                "gpusByModel": g.gpus_by_model,
                "sharedGpus": g.shared_gpus,
                "ratio": None if g.ratio is None else round(g.ratio, 4),
                "oversubscribed": g.oversubscribed,
            }
            for g in quota_capacity_groups(plan, max_ratio)
        ],
    }
