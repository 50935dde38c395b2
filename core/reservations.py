"""A fleet's reserved pools as the plan reports them: what each reservation holds, its window, and whether it
ends soon while a tenant's quota depends on it. Pure; `as_of` is the time the report is for.

- A pool with capacity reserved launches into the capacity reservations it names only: On-Demand Capacity
  Reservations (billed at the on-demand rate while they exist, used or not) or a Capacity Block for ML (paid
  upfront for its window; EC2 terminates its instances 30 minutes before its end, Karpenter and EKS drain them
  40 minutes before: DRAIN_BEFORE_END).
- A tenant's quota depends on a reserved pool when part of its nominal quota lies there (core.queues
  nominal_split: the quota first-fit over its pools, in their order), as Kueue's does.
- The plan warns when a reservation with an end ends within its warnDaysBeforeEnd (or has ended), or has not
  started yet, while a tenant depends on it: the quota promises GPUs the fleet does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from .names import CAPACITY_BLOCK
from .plan import FleetPlan, PoolPlan
from .queues import nominal_split

# Capacity Blocks: EKS scales a node group to 0 and Karpenter drains the nodes 40 minutes before the end (EKS
# user guide, capacity-blocks-mng; karpenter-provider-aws pkg/controllers/capacityreservation/expiration/
# controller.go), ten minutes before EC2 starts terminating them.
DRAIN_BEFORE_END = timedelta(minutes=40)
# Where a reservation's window stands at the time of the report.
SCHEDULED, ACTIVE, ENDED = "scheduled", "active", "ended"


@dataclass(frozen=True)
class ReservationStatus:
    pool: str
    type: str
    selector: dict[str, Any]
    """{"ids": [...]} or {"tags": {...}}: how the pool names its reservations."""
    availability_zone: Optional[str]
    instances: int
    start: Optional[datetime]
    end: Optional[datetime]
    hours: Optional[float]
    """The window's length; None without both ends."""
    provisioner: Optional[str]
    dependent_tenants: tuple[str, ...]
    """Tenants with part of their nominal quota in the pool."""
    warn_days: int
    as_of: datetime

    @property
    def state(self) -> str:
        """SCHEDULED (before start), ACTIVE, or ENDED (past its end)."""
        if self.end is not None and self.as_of >= self.end:
            return ENDED
        if self.start is not None and self.as_of < self.start:
            return SCHEDULED
        return ACTIVE

    @property
    def days_left(self) -> Optional[float]:
        """Days from as_of to the end; None without an end."""
        return None if self.end is None else (self.end - self.as_of).total_seconds() / 86400

    @property
    def warning(self) -> Optional[str]:
        """Why the plan warns about the reservation; None when it does not."""
        if not self.dependent_tenants:
            return None
        tenants = ", ".join(self.dependent_tenants)
        if self.state == SCHEDULED:
            return (f"the reservation starts {self.start:%Y-%m-%d %H:%M} UTC, and until then the quota of {tenants} "
                    "counts GPUs the pool cannot launch")
        if self.days_left is None or self.days_left > self.warn_days:
            return None
        end = f"{self.end:%Y-%m-%d %H:%M} UTC"
        if self.state == ENDED:
            return f"the reservation ended {end}, and the quota of {tenants} still counts the pool's GPUs"
        return (f"the reservation ends {end}, in {self.days_left:.1f} days (warning at {self.warn_days}), and the "
                f"quota of {tenants} counts the pool's GPUs: renew it, or move the quota to other pools")


def reservation_statuses(plan: FleetPlan, as_of: datetime) -> list[ReservationStatus]:
    """One status per reserved pool, in the plan's order."""
    pools = {pool.name: pool for pool in plan.pools}
    split = nominal_split(plan.tenants, pools)
    return [_status(pool, split, as_of) for pool in plan.pools if pool.reservation is not None]


def _status(pool: PoolPlan, split: dict[str, dict[str, int]], as_of: datetime) -> ReservationStatus:
    reservation = pool.reservation
    assert reservation is not None
    return ReservationStatus(
        pool=pool.name,
        type=reservation.type,
        selector={"tags": dict(reservation.tags)} if reservation.tags is not None else {"ids": list(reservation.ids)},
        availability_zone=reservation.availability_zone,
        instances=reservation.instances,
        start=reservation.start,
        end=reservation.end,
        hours=reservation.window_hours,
        provisioner=pool.provisioner,
        dependent_tenants=tuple(tenant for tenant, shares in split.items() if shares.get(pool.name, 0) > 0),
        warn_days=reservation.warn_days_before_end,
        as_of=as_of,
    )


def _time(value: Optional[datetime]) -> Optional[str]:
    """RFC 3339 in UTC to the second (the spec keeps times in UTC)."""
    return None if value is None else value.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def reservations_report(statuses: list[ReservationStatus]) -> list[dict[str, Any]]:
    """The `reservations` list of `gpufleet plan --format json`."""
    return [
        {
            "pool": s.pool,
            "type": s.type,
            **s.selector,
            "availabilityZone": s.availability_zone,
            "instances": s.instances,
            "provisioner": s.provisioner,
            "start": _time(s.start),
            "end": _time(s.end),
            "drainedFrom": _time(s.end - DRAIN_BEFORE_END) if s.type == CAPACITY_BLOCK and s.end else None,
            "hours": None if s.hours is None else round(s.hours, 2),
            "state": s.state,
            "asOf": _time(s.as_of),
            "daysLeft": None if s.days_left is None else round(s.days_left, 2),
            "warnDaysBeforeEnd": s.warn_days,
            "dependentTenants": list(s.dependent_tenants),
            "warning": s.warning,
        }
        for s in statuses
    ]
