"""Fair-sharing queues (Kueue): nominal quotas within capacity, no lending of what is not there, bounded
borrowing for critical tenants. Read from the ClusterQueues and Cohorts of the stack (observed_fleet.Queue)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from pulumi_policy import EnforcementLevel, Severity

from core.capacity import PoolGpus, TenantQuota, capacity_groups

from .builders import stack_policy
from .observed_fleet import Fleet, queues_of

CRITICAL = "critical"

# --- queues-within-capacity ---------------------------------------------------------------


def _check_within_capacity(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    queues = queues_of(fleet)
    for queue in queues:
        if queue.over_lent:
            yield queue.urn, (
                f"{queue.kind} '{queue.name}' lends more than its nominal quota of {', '.join(queue.over_lent)}: "
                "a lendingLimit must be at most the nominalQuota (Kueue's webhook refuses it)"
            )
        if queue.kind == "ClusterQueue" and not queue.cohort and any(v is not None for l in queue.borrowing_limits.values() for v in l):
            yield queue.urn, f"ClusterQueue '{queue.name}' sets a borrowingLimit without a cohort: there is nobody to borrow from"
    # Per pool: every queue's nominal GPUs there and the cohort's own (idle) quota are one group of
    # core.capacity, judged at ratio 1 (a nominal quota is a promise; it cannot be oversubscribed).
    pools = [
        PoolGpus(name=p.name, gpus_at_max=p.units_at_max, model=p.gpu_model, shared=False)
        for p in fleet.pools.values()
    ]
    claims = [
        TenantQuota(f"{q.kind} '{q.name}'", nominal, (flavor,))
        for q in queues
        for flavor, nominal in q.nominal.items()
        if flavor in fleet.pools
    ]
    for group in capacity_groups(pools, claims):
        if group.oversubscribed and len(group.pools) == 1:
            yield None, (
                f"pool '{group.pools[0]}': the nominal quotas of its flavor ({', '.join(group.tenants)}) sum to "
                f"{group.quota} GPU units but the pool has {group.gpus_at_max} at max size: lower the tenants' "
                "gpuQuota or raise the pool's maxSize"
            )


queues_within_capacity = stack_policy(
    name="queues-within-capacity",
    description=(
        "The nominal GPU quotas of every ClusterQueue and Cohort in a pool's flavor fit the pool's GPU units at "
        "maximum size; no queue lends more than its nominal quota or sets a borrowing limit without a cohort."
    ),
    check=_check_within_capacity,
    severity=Severity.HIGH,
    remediation_steps="Lower the tenants' gpuQuota or lendingLimit, or raise maxSize of the pool.",
)


# --- critical-tenant-borrowing-limited ----------------------------------------------------


def _check_critical_borrowing(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    critical = {t.name for t in fleet.tenants if t.priority == CRITICAL}
    for queue in queues_of(fleet):
        if queue.kind != "ClusterQueue" or queue.tenant not in critical or not queue.cohort:
            continue
        unlimited = sorted(f for f, limits in queue.borrowing_limits.items() if not limits or None in limits)
        if unlimited:
            yield queue.urn, (
                f"critical tenant '{queue.tenant}' may borrow without limit in {', '.join(unlimited)}: what runs on "
                "borrowed GPUs is preempted when their owner reclaims them; set tenants[].queue.borrowingLimit"
            )


critical_tenant_borrowing_limited = stack_policy(
    name="critical-tenant-borrowing-limited",
    description=(
        "The ClusterQueue of a critical tenant in a cohort sets a borrowingLimit on every GPU resource: borrowed "
        "GPUs are reclaimed by preemption, so a critical tenant's reliance on them is bounded."
    ),
    check=_check_critical_borrowing,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps="Set tenants[].queue.borrowingLimit for the critical tenant (0: it never borrows).",
)


POLICIES = [queues_within_capacity, critical_tenant_borrowing_limited]
