"""The offline plan: what a stack config turns into, as data for text, JSON and policy checks."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from core.capacity import DEFAULT_MAX_RATIO, capacity_report
from core.cost import cost_report, fleet_cost
from core.plan import FleetPlan
from core.queues import fair_share_report
from core.reservations import reservation_statuses, reservations_report

from ..offline import OfflineRun


def tenant_summary(plan: FleetPlan) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "gpuQuota": t.gpu_quota,
            "pools": list(t.pools),
            "priority": t.priority,
            "isolation": t.isolation,
            "cudaVersions": list(t.cuda_versions),
        }
        for t in plan.tenants
    ]


def build_plan(
    run: OfflineRun,
    violations: list[dict] | None = None,
    max_ratio: float = DEFAULT_MAX_RATIO,
    region: str | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The plan as data; `max_ratio`: the quota/capacity ratio the stack's policy config allows;
    `region`: the stack's aws:region, which the prices may not be for; `as_of`: the time reservations are judged
    at (default now)."""
    custom = run.custom_resources
    return {
        "stack": run.stack,
        "resources": len(custom),
        "resourcesByType": dict(sorted(Counter(r.type for r in custom).items())),
        "nodePools": run.plan.pool_inventory(),
        "tenants": tenant_summary(run.plan),
        "cost": cost_report(fleet_cost(run.plan), region),
        "capacity": capacity_report(run.plan, max_ratio),
        **({"fairSharing": report} if (report := fair_share_report(run.plan.queues)) else {}),
        "reservations": reservations_report(reservation_statuses(run.plan, as_of or datetime.now(timezone.utc))),
        "violations": violations or [],
    }
