"""The cost, capacity and compare parts of a plan as titled tables, rendered as text or Markdown.

One layout, two renderers: `gpufleet plan` prints text, `--format markdown` the same tables for
a PR comment. Unknown amounts print as `unknown`, never as $0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from core.names import CAPACITY_BLOCK, KARPENTER, MANAGED_EXTERNALLY, RESERVED
from core.reservations import DRAIN_BEFORE_END

from ..text_table import table

ESTIMATE_MARK = "~"


@dataclass(frozen=True)
class Section:
    title: str
    headers: Sequence[str]
    rows: list[Sequence[object]]
    notes: list[str] = field(default_factory=list)


def money(value: Optional[float], places: int = 2, estimate: bool = False) -> str:
    if value is None:
        return "unknown"
    return f"{ESTIMATE_MARK if estimate else ''}${value:,.{places}f}"


def signed(value: Optional[float]) -> str:
    if value is None:
        return "unknown"
    if round(value, 2) == 0:
        return "$0.00"
    return f"{'+' if value > 0 else '-'}${abs(value):,.2f}"


def signed_count(value: int) -> str:
    return f"+{value}" if value > 0 else str(value)


def _cost_header_notes(cost: dict[str, Any]) -> list[str]:
    spot = cost["spotDiscount"]
    where = "gpu-fleet:cost.spotDiscount" if spot["from"] == "config" else "the facts' spot_discount_estimate"
    notes = [
        f"Prices: {cost['region']} on-demand, {cost['currency']}, from {cost['priceSource']['source']} "
        f"(read {cost['priceSource']['date']}); a month is {cost['hoursPerMonth']} hours.",
        f"{ESTIMATE_MARK} spot prices are ESTIMATES: on-demand x (1 - {spot['value']:.2f}), the discount from {where}.",
        "A pool with several instance types is priced at its most expensive type.",
    ]
    if cost.get("stackRegion") and cost["stackRegion"] != cost["region"]:
        notes.insert(1, f"The stack deploys to {cost['stackRegion']} (aws:region), which the price source does not cover: "
                     f"these are {cost['region']} prices, and {cost['stackRegion']}'s may differ.")
    return notes


def cost_sections(plan: dict[str, Any]) -> list[Section]:
    cost = plan.get("cost") or {}
    if not cost.get("pools"):
        return []
    rows = []
    for p in cost["pools"]:
        est = p["estimate"]
        rows.append(
            [
                p["name"],
                p["capacity"],
                p.get("provisioner") or MANAGED_EXTERNALLY,
                p["pricedType"] or "-",
                money(p["nodeHourly"], 3, est),
                money(p["gpuHourly"], 3, est),
                money(p["min"]["monthly"], 2, est),
                money(p["desired"]["monthly"], 2, est),
                money(p["max"]["monthly"], 2, est),
            ]
        )
    total = cost["total"]
    est_total = total["includesEstimates"]
    prefix = "" if total["complete"] else ">= "
    rows.append(
        ["total", "", "", "", "", "", *(prefix + money(total[s]["monthly"], 2, est_total) for s in ("min", "desired", "max"))]
    )
    notes = _cost_header_notes(cost)
    if any(p["pricing"] == RESERVED for p in cost["pools"]):
        notes.append("Reserved pools are paid for their reservations' instances at every size, used or not.")
    if not total["complete"]:
        notes.append(f"Unknown price: {', '.join(total['unpricedPools'])} (see Reservations, or no price in the facts); "
                     "totals leave them out.")
    sections = [
        Section(
            "Cost per pool ($/month at min, desired and max size)",
            ["pool", "capacity", "launched by", "priced at", "$/node-h", "$/GPU-h", "min $/mo", "desired $/mo",
             "max $/mo"],
            rows,
            notes,
        )
    ]
    if cost.get("tenants"):
        sections.append(
            Section(
                "Tenant GPU quota cost (quota x $/GPU-h of its pools, cheapest..dearest)",
                ["tenant", "GPU quota", "pools", "$/GPU-h", "$/month"],
                [
                    [
                        t["name"],
                        t["gpuQuota"],
                        ",".join(t["pools"]),
                        _range(t["gpuHourly"], 3, t["estimate"]),
                        _range(t["monthly"], 2, t["estimate"]),
                    ]
                    for t in cost["tenants"]
                ],
            )
        )
    return sections


def scaling(pool: dict[str, Any]) -> str:
    """elastic: Karpenter launches nodes for pending pods and removes empty ones; static: a node group keeps its
    size (nothing in the stack resizes it); existing: the cluster's own nodes."""
    provisioner = pool.get("provisioner")
    if provisioner is None:
        return MANAGED_EXTERNALLY
    return "elastic" if provisioner == KARPENTER else "static"


def _when(value: Optional[str]) -> str:
    return "-" if value is None else value.replace("T", " ").replace(":00Z", " UTC")


def reservation_sections(plan: dict[str, Any]) -> list[Section]:
    """The reserved pools: reservations, window, the tenants whose quota depends on them, and warnings."""
    reservations = plan.get("reservations") or []
    if not reservations:
        return []
    totals = {p["name"]: p.get("reservation", {}).get("total") for p in (plan.get("cost") or {}).get("pools", [])}
    rows = []
    for r in reservations:
        named = ",".join(r["ids"]) if "ids" in r else ",".join(f"{k}={v}" for k, v in r["tags"].items())
        rows.append([
            r["pool"], r["type"], named, r["availabilityZone"] or "-", r["instances"], _when(r["start"]),
            _when(r["end"]), r["state"], "-" if r["daysLeft"] is None else f"{r['daysLeft']:.1f}",
            ",".join(r["dependentTenants"]) or "-", money(totals.get(r["pool"])) if r["end"] and r["start"] else "-",
        ])
    as_of = _when(reservations[0]["asOf"])
    notes = [f"As of {as_of}. Tenants: those with nominal quota in the pool."]
    if any(r["type"] == CAPACITY_BLOCK for r in reservations):
        drain = int(DRAIN_BEFORE_END.total_seconds() // 60)
        notes.append(f"A Capacity Block's nodes are drained {drain} minutes before its end; its cost is paid upfront "
                     "for the whole window.")
    notes += [f"WARNING {r['pool']}: {r['warning']}" for r in reservations if r["warning"]]
    return [
        Section(
            "Reservations (reserved pools)",
            ["pool", "type", "reservations", "zone", "instances", "start", "end", "state", "days left", "tenants",
             "window cost"],
            rows,
            notes,
        )
    ]


def _range(pair: dict, places: int, estimate: bool) -> str:
    low, high = pair["min"], pair["max"]
    if low is None:
        return "unknown"
    if low == high:
        return money(low, places, estimate)
    return f"{money(low, places, estimate)}..{money(high, places, estimate)}"


def capacity_sections(plan: dict[str, Any]) -> list[Section]:
    capacity = plan.get("capacity") or {}
    if not capacity.get("gpus"):
        return []
    sections = [
        Section(
            "GPUs by model and capacity type",
            ["GPU", "capacity", "pools", "at min", "at desired", "at max"],
            [[g["gpu"], g["capacity"], ",".join(g["pools"]), g["min"], g["desired"], g["max"]] for g in capacity["gpus"]],
        )
    ]
    if capacity.get("groups"):
        limit = capacity["maxRatio"]
        over = [g for g in capacity["groups"] if g["oversubscribed"]]
        notes = [
            "Tenants of a group: those whose pools all lie in it. ratio = their quota sum / GPUs at max size (on MIG pools: GPU instances, the units quotas count there).",
        ]
        if over:
            notes.append(f"OVERSUBSCRIBED: {len(over)} group(s) above ratio {limit:g}.")
        if any(g["sharedGpus"] for g in capacity["groups"]):
            notes.append("* time-slicing or MIG: the pool advertises more nvidia.com/gpu units than physical GPUs.")
        sections.append(
            Section(
                "GPU quota against capacity (per group of pools)",
                ["pools", "tenants", "quota", "GPUs at max", "ratio", "flag"],
                [
                    [
                        ",".join(g["pools"]) + (" *" if g["sharedGpus"] else ""),
                        ",".join(g["tenants"]) or "-",
                        g["quota"],
                        g["gpusAtMax"],
                        "-" if g["ratio"] is None else f"{g['ratio']:.2f}",
                        f"OVER {limit:g}" if g["oversubscribed"] else "ok",
                    ]
                    for g in capacity["groups"]
                ],
                notes,
            )
        )
    return sections


def _limit(value: Optional[int], unset: str) -> str:
    return unset if value is None else str(value)


def fair_share_sections(plan: dict[str, Any]) -> list[Section]:
    """The tenants' queues per pool and the capacity of each cohort (queues.enabled)."""
    fair = plan.get("fairSharing")
    if not fair:
        return []
    return [
        Section(
            "Fair sharing (Kueue): each tenant's queue per pool, in GPU units",
            ["tenant", "pool", "nominal", "borrowing limit", "lending limit", "weight", "cohort"],
            [
                [t["name"], p["pool"], p["nominal"], _limit(p["borrowingLimit"], "cohort idle"),
                 _limit(p["lendingLimit"], "all"), f"{t['weight']:g}", t["cohort"]]
                for t in fair["tenants"]
                for p in t["pools"]
            ],
            ["nominal: guaranteed (the gpuQuota split over the tenant's pools in their order); a tenant borrows what "
             "others leave idle, up to its borrowing limit, and gets its nominal back by preemption."],
        ),
        Section(
            "Cohorts: GPU units at max size, and what no nominal quota claims (borrowable by any member)",
            ["cohort", "pool", "tenants", "GPUs at max", "idle"],
            [
                [c["name"], pool, ",".join(c["tenants"]), c["gpusAtMax"][pool], c["idle"][pool]]
                for c in fair["cohorts"]
                for pool in c["pools"]
            ],
        ),
    ]


def compare_sections(compare: dict[str, Any]) -> list[Section]:
    head, base = compare["head"], compare["base"]
    if head == base:
        head, base = f"{head} (head)", f"{base} (base)"
    res = compare["resources"]
    sections = [
        Section(
            f"Resources: {base} {res['base']} -> {head} {res['head']} ({signed_count(res['delta'])})",
            ["resource type", base, head, "delta"],
            [[r["type"], r["base"], r["head"], signed_count(r["delta"])] for r in compare["resourcesByType"]],
            [] if compare["resourcesByType"] else ["No change in resource counts."],
        )
    ]
    cost = compare["cost"]
    rows = [
        [
            p["name"],
            p["status"],
            money(p["desired"]["base"]),
            money(p["desired"]["head"]),
            signed(p["desired"]["delta"]),
            money(p["max"]["base"]),
            money(p["max"]["head"]),
            signed(p["max"]["delta"]),
        ]
        for p in cost["pools"]
    ]
    t = cost["total"]
    rows.append(
        [
            "total",
            "",
            money(t["desired"]["base"]),
            money(t["desired"]["head"]),
            signed(t["desired"]["delta"]),
            money(t["max"]["base"]),
            money(t["max"]["head"]),
            signed(t["max"]["delta"]),
        ]
    )
    notes = [f"Delta = {head} - {base}; spot pools are estimates."]
    if not t["complete"]:
        notes.append(f"Unknown price: {', '.join(t['unpricedPools'])}; totals leave them out.")
    sections.append(
        Section(
            f"Cost change ({cost['unit']}, at desired and max size)",
            ["pool", "change", f"desired {base}", f"desired {head}", "delta", f"max {base}", f"max {head}", "delta"],
            rows,
            notes,
        )
    )
    return sections


def render_text(sections: list[Section]) -> str:
    parts = []
    for section in sections:
        parts += ["", section.title]
        if section.rows:
            parts.append(table(section.headers, section.rows))
        parts += section.notes
    return "\n".join(parts)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|")


def markdown_table(headers: Sequence[str], rows: list[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(sections: list[Section], level: int = 3) -> str:
    parts = []
    for section in sections:
        parts += [f"{'#' * level} {section.title}", ""]
        if section.rows:
            parts += [markdown_table(section.headers, section.rows), ""]
        if section.notes:
            parts += [f"- {note}" for note in section.notes] + [""]
    return "\n".join(parts)
