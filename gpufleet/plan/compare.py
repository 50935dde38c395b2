"""`gpufleet plan --compare-to OTHER`: what changes between two configs (a PR preview's summary).

`base` is OTHER (e.g. the stack as on the main branch), `head` the config being planned;
every delta is head - base. Amounts are $/month at desired and max size; None means unknown
(a price the facts lack on either side), never 0.
"""

from __future__ import annotations

from typing import Any, Optional

COST_SIZES = ("desired", "max")


def _delta(base: Optional[float], head: Optional[float]) -> Optional[float]:
    if base is None or head is None:
        return None
    return round(head - base, 2)


def _triple(base: Optional[float], head: Optional[float]) -> dict:
    return {"base": base, "head": head, "delta": _delta(base, head)}


def _pool_monthly(pool: Optional[dict], size: str) -> Optional[float]:
    if pool is None:
        return 0.0  # a pool that does not exist on one side costs nothing there
    return pool[size]["monthly"]


def compare_plans(head: dict[str, Any], base: dict[str, Any], base_name: str) -> dict[str, Any]:
    """The `compare` object of a plan: resource counts by type and cost, head against base."""
    types = sorted(set(head["resourcesByType"]) | set(base["resourcesByType"]))
    by_type = []
    for kind in types:
        b, h = base["resourcesByType"].get(kind, 0), head["resourcesByType"].get(kind, 0)
        if b != h:
            by_type.append({"type": kind, "base": b, "head": h, "delta": h - b})
    base_pools = {p["name"]: p for p in base["cost"]["pools"]}
    head_pools = {p["name"]: p for p in head["cost"]["pools"]}
    names = list(head_pools) + [n for n in base_pools if n not in head_pools]
    pools = []
    for name in names:
        b, h = base_pools.get(name), head_pools.get(name)
        status = "added" if b is None else "removed" if h is None else "unchanged"
        entry = {"name": name, "status": status}
        for size in COST_SIZES:
            entry[size] = _triple(_pool_monthly(b, size), _pool_monthly(h, size))
        if status == "unchanged" and (
            any(entry[s]["delta"] != 0 for s in COST_SIZES) or _pool_shape(b) != _pool_shape(h)
        ):
            entry["status"] = "changed"
        pools.append(entry)
    total = {
        size: _triple(base["cost"]["total"][size]["monthly"], head["cost"]["total"][size]["monthly"])
        for size in COST_SIZES
    }
    unpriced = sorted(set(base["cost"]["total"]["unpricedPools"]) | set(head["cost"]["total"]["unpricedPools"]))
    return {
        "base": base_name,
        "head": head["stack"],
        "resources": {"base": base["resources"], "head": head["resources"], "delta": head["resources"] - base["resources"]},
        "resourcesByType": by_type,
        "cost": {
            "unit": f"{head['cost']['currency']}/month",
            "pools": pools,
            "total": {**total, "complete": not unpriced, "unpricedPools": unpriced},
        },
    }


def _pool_shape(pool: dict) -> tuple:
    return (tuple(pool["instanceTypes"]), pool["capacity"], pool["min"]["nodes"], pool["desired"]["nodes"], pool["max"]["nodes"])
