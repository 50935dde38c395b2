"""Cost of a fleet from the facts' on-demand prices: per pool, per environment, per tenant quota.

Pure functions of the fleet plan. Every figure comes from core/data/gpu-facts.yaml (via core.facts):

- A node costs its instance type's on-demand price per hour. A month is 730 hours.
- Spot has no stable published price, so a spot node is an *estimate*: on-demand x (1 - discount),
  the discount being `gpu-fleet:cost.spotDiscount` or else the facts' spot_discount_estimate.
- A pool that lists several instance types is priced at its most expensive type (an upper bound:
  the node group may launch any of them, and a budget should hold for the worst case). Its price
  per GPU-hour is that type's price over that type's GPUs.
- A price the facts do not have (p5e.48xlarge) is unknown (None), never 0. A pool with any
  unpriced type is unknown, since its most expensive type cannot be named; totals then cover the
  priced pools only and say which pools they leave out.
- A reserved pool costs its reservations' instances at every size, used or not: an On-Demand Capacity
  Reservation at the on-demand rate (EC2 user guide, capacity-reservations-pricing-billing: "charged at the
  equivalent On-Demand rate whether you run instances in reserved capacity or not"), a Capacity Block at the
  price per instance-hour its reservation states (set at purchase, paid upfront; unknown otherwise), for its
  window (reservation_total; a month of it is at most the window's hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .facts import Facts, InstanceType, load_facts
from .names import ODCR, RESERVED, SPOT
from .plan import FleetPlan, PoolPlan, TenantPlan

HOURS_PER_MONTH = 730
SIZES = ("min", "desired", "max")
MIXED_TYPE_PRICING = "most-expensive"


@dataclass(frozen=True)
class PoolCost:
    """What one node pool costs per hour at each of its sizes."""

    pool: str
    capacity: str
    gpu: str
    instance_types: tuple[str, ...]
    nodes: dict[str, int]
    """Nodes at min, desired and max size."""
    priced_type: Optional[InstanceType]
    """The type the pool is priced at (its most expensive); None when a price is unknown."""
    unpriced_types: tuple[str, ...]
    on_demand_node_hourly: Optional[float]
    node_hourly: Optional[float]
    """On-demand price, or the spot estimate for spot pools; None when unknown."""
    estimate: bool
    """True for spot pools: node_hourly is on-demand less an assumed discount, not a quoted price."""
    devices_per_gpu: int = 1
    """Units of quota one GPU provides: its MIG instances on a MIG pool, else 1."""
    provisioner: Optional[str] = None
    """What launches the nodes (karpenter: elastic, from 0 to max; nodegroup); None on an existing cluster."""
    reserved_instances: Optional[int] = None
    """A reserved pool's instances, paid at every size; None for other pools."""
    reservation_type: Optional[str] = None
    reservation_hours: Optional[float] = None
    """A reservation's window in hours (a Capacity Block's); None when open-ended."""

    @property
    def known(self) -> bool:
        return self.node_hourly is not None

    @property
    def gpu_hourly(self) -> Optional[float]:
        if self.node_hourly is None or self.priced_type is None:
            return None
        return self.node_hourly / self.priced_type.gpus

    @property
    def unit_hourly(self) -> Optional[float]:
        """Price of one unit of quota per hour: a GPU, or one MIG instance of it. A time-sliced replica is
        priced as its whole GPU (an upper bound: the replicas share it)."""
        return None if self.gpu_hourly is None else self.gpu_hourly / self.devices_per_gpu

    def paid_nodes(self, size: str) -> int:
        """Nodes paid for at `size`: a reserved pool's reservations, whatever it runs."""
        return self.nodes[size] if self.reserved_instances is None else self.reserved_instances

    def hourly(self, size: str) -> Optional[float]:
        return None if self.node_hourly is None else self.node_hourly * self.paid_nodes(size)

    @property
    def reservation_total(self) -> Optional[float]:
        """What a reservation with a window costs over it; None when open-ended or unpriced."""
        if self.reservation_hours is None or self.node_hourly is None or self.reserved_instances is None:
            return None
        return self.node_hourly * self.reserved_instances * self.reservation_hours

    @property
    def hours_per_month(self) -> float:
        """Hours a month the pool is paid for: all of them, but a window shorter than a month (a Capacity Block's)."""
        return HOURS_PER_MONTH if self.reservation_hours is None else min(HOURS_PER_MONTH, self.reservation_hours)

    def monthly(self, size: str) -> Optional[float]:
        hourly = self.hourly(size)
        return None if hourly is None else hourly * self.hours_per_month

    @property
    def basis(self) -> str:
        """One sentence on where the price comes from, for people reading a plan."""
        if self.reservation_type is not None:
            return self._reserved_basis
        if not self.known:
            return f"unknown: no price for {', '.join(self.unpriced_types)} in the facts"
        assert self.priced_type is not None
        text = f"{self.priced_type.name} on-demand"
        if len(self.instance_types) > 1:
            text += f" (most expensive of {len(self.instance_types)} types)"
        if self.estimate:
            text += ", spot estimate"
        return text

    @property
    def _reserved_basis(self) -> str:
        if self.node_hourly is None:
            why = (f"no on-demand price for {', '.join(self.unpriced_types)} in the facts" if self.reservation_type == ODCR
                   else "a Capacity Block's price is set at purchase")
            return f"unknown: {self.reserved_instances} reserved instances, {why} (reservation.hourlyPrice)"
        rate = "the on-demand rate" if self.node_hourly == self.on_demand_node_hourly else "its stated price"
        return f"{self.reserved_instances} reserved {self.reservation_type} instances at {rate}, paid used or not"


@dataclass(frozen=True)
class TenantCost:
    """What a tenant's GPU quota costs at the prices of the pools it may use."""

    tenant: str
    gpu_quota: int
    pools: tuple[str, ...]
    gpu_hourly_min: Optional[float]
    gpu_hourly_max: Optional[float]
    """Cheapest and dearest price per unit of quota and hour (a GPU, a MIG instance on a MIG pool) among
    the tenant's priced pools; None if none is priced."""
    estimate: bool
    """True when a spot estimate sets either end of the range."""
    unpriced_pools: tuple[str, ...]

    def hourly(self, end: str) -> Optional[float]:
        rate = self.gpu_hourly_min if end == "min" else self.gpu_hourly_max
        return None if rate is None else rate * self.gpu_quota

    def monthly(self, end: str) -> Optional[float]:
        hourly = self.hourly(end)
        return None if hourly is None else hourly * HOURS_PER_MONTH


@dataclass(frozen=True)
class FleetCost:
    pools: tuple[PoolCost, ...]
    tenants: tuple[TenantCost, ...]
    spot_discount: float
    spot_discount_from: str
    """'config' (gpu-fleet:cost.spotDiscount) or 'facts' (spot_discount_estimate)."""
    facts: Facts

    def pool(self, name: str) -> PoolCost:
        return next(p for p in self.pools if p.pool == name)

    @property
    def unpriced_pools(self) -> tuple[str, ...]:
        return tuple(p.pool for p in self.pools if not p.known)

    def total_hourly(self, size: str) -> float:
        """Sum over the priced pools; see unpriced_pools for what it leaves out."""
        return sum(p.hourly(size) for p in self.pools if p.known)

    def total_monthly(self, size: str) -> float:
        return sum(p.monthly(size) for p in self.pools if p.known)


def spot_discount(plan: FleetPlan, facts: Facts) -> tuple[float, str]:
    if plan.cost.spot_discount is not None:
        return plan.cost.spot_discount, "config"
    return facts.prices.spot_discount_estimate, "facts"


def pool_cost(pool: PoolPlan, discount: float) -> PoolCost:
    catalog = pool.catalog
    unpriced = tuple(t.name for t in catalog if t.on_demand_price is None)
    priced_type = None if unpriced else max(catalog, key=lambda t: t.on_demand_price)
    on_demand = None if priced_type is None else priced_type.on_demand_price
    spot = pool.capacity == SPOT
    node_hourly = None if on_demand is None else (on_demand * (1 - discount) if spot else on_demand)
    reservation = pool.reservation
    if reservation is not None:
        stated = reservation.hourly_price
        node_hourly = stated if stated is not None else (on_demand if reservation.type == ODCR else None)
        if stated is not None and priced_type is None:
            priced_type, unpriced = catalog[0], ()
    return PoolCost(
        pool=pool.name,
        capacity=pool.capacity,
        gpu=pool.gpu,
        instance_types=pool.instance_types,
        nodes={"min": pool.min_size, "desired": pool.desired_size, "max": pool.max_size},
        priced_type=priced_type,
        unpriced_types=unpriced,
        on_demand_node_hourly=on_demand,
        node_hourly=node_hourly,
        estimate=spot,
        devices_per_gpu=pool.devices_per_gpu,
        provisioner=pool.provisioner,
        reserved_instances=None if reservation is None else reservation.instances,
        reservation_type=None if reservation is None else reservation.type,
        reservation_hours=None if reservation is None else reservation.window_hours,
    )


def tenant_cost(tenant: TenantPlan, pools: dict[str, PoolCost]) -> TenantCost:
    mine = [pools[name] for name in tenant.pools if name in pools]
    priced = [p for p in mine if p.known]
    cheapest = min(priced, key=lambda p: p.unit_hourly, default=None)
    dearest = max(priced, key=lambda p: p.unit_hourly, default=None)
    return TenantCost(
        tenant=tenant.name,
        gpu_quota=tenant.gpu_quota,
        pools=tenant.pools,
        gpu_hourly_min=None if cheapest is None else cheapest.unit_hourly,
        gpu_hourly_max=None if dearest is None else dearest.unit_hourly,
        estimate=any(p.estimate for p in (cheapest, dearest) if p is not None),
        unpriced_pools=tuple(p.pool for p in mine if not p.known),
    )


def fleet_cost(plan: FleetPlan, facts: Optional[Facts] = None) -> FleetCost:
    """The cost of every pool and tenant quota of `plan` at the facts' prices."""
    facts = facts or load_facts()
    discount, source = spot_discount(plan, facts)
    pools = tuple(pool_cost(pool, discount) for pool in plan.pools)
    by_name = {p.pool: p for p in pools}
    return FleetCost(
        pools=pools,
        tenants=tuple(tenant_cost(t, by_name) for t in plan.tenants),
        spot_discount=discount,
        spot_discount_from=source,
        facts=facts,
    )


# --- JSON -------------------------------------------------------------------------------


def _money(value: Optional[float], places: int = 4) -> Optional[float]:
    return None if value is None else round(value, places)


def _sized(hourly: Optional[float], monthly: Optional[float], nodes: Optional[int] = None) -> dict:
    out = {} if nodes is None else {"nodes": nodes}
    out["hourly"] = _money(hourly)
    out["monthly"] = _money(monthly, 2)
    return out


def _pricing(pool: PoolCost) -> str:
    if not pool.known:
        return "unknown"
    if pool.reservation_type is not None:
        return RESERVED
    return "spot-estimate" if pool.estimate else "on-demand"


def cost_report(cost: FleetCost, stack_region: Optional[str] = None) -> dict:
    """The `cost` object of `gpufleet plan --format json` (amounts: None means unknown). `region` is
    the region priced; `stackRegion` the stack's own (aws:region, None when the file names none)."""
    prices = cost.facts.prices
    return {
        "currency": prices.currency,
        "region": prices.region,
        "stackRegion": stack_region,
        "priceSource": {"source": prices.source.source, "date": prices.source.read},
        "hoursPerMonth": HOURS_PER_MONTH,
        "spotDiscount": {
            "value": cost.spot_discount,
            "from": cost.spot_discount_from,
            "note": "spot prices are estimates: on-demand x (1 - discount); AWS publishes no stable spot price",
        },
        "mixedTypePricing": MIXED_TYPE_PRICING,
        "pools": [
            {
                "name": p.pool,
                "capacity": p.capacity,
                "provisioner": p.provisioner,
                "gpu": p.gpu,
                "instanceTypes": list(p.instance_types),
                "pricedType": None if p.priced_type is None else p.priced_type.name,
                "pricing": _pricing(p),
                "estimate": p.estimate,
                "unpricedTypes": list(p.unpriced_types),
                "basis": p.basis,
                "onDemandNodeHourly": _money(p.on_demand_node_hourly),
                "nodeHourly": _money(p.node_hourly),
                "gpuHourly": _money(p.gpu_hourly),
                "devicesPerGpu": p.devices_per_gpu,
                "unitHourly": _money(p.unit_hourly),
                **{size: {**_sized(p.hourly(size), p.monthly(size), p.nodes[size]), "paidNodes": p.paid_nodes(size)}
                   for size in SIZES},
                **({"reservation": {"type": p.reservation_type, "instances": p.reserved_instances,
                                    "hours": p.reservation_hours, "total": _money(p.reservation_total, 2)}}
                   if p.reservation_type is not None else {}),
            }
            for p in cost.pools
        ],
        "total": {
            **{size: _sized(cost.total_hourly(size), cost.total_monthly(size)) for size in SIZES},
            "complete": not cost.unpriced_pools,
            "unpricedPools": list(cost.unpriced_pools),
            "includesEstimates": any(p.estimate and p.known for p in cost.pools),
        },
        "tenants": [
            {
                "name": t.tenant,
                "gpuQuota": t.gpu_quota,
                "pools": list(t.pools),
                "gpuHourly": {"min": _money(t.gpu_hourly_min), "max": _money(t.gpu_hourly_max)},
                "hourly": {"min": _money(t.hourly("min")), "max": _money(t.hourly("max"))},
                "monthly": {"min": _money(t.monthly("min"), 2), "max": _money(t.monthly("max"), 2)},
                "estimate": t.estimate,
                "unpricedPools": list(t.unpriced_pools),
            }
            for t in cost.tenants
        ],
    }
