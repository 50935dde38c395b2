"""The offline plan: what a stack config turns into, as data for text, JSON and policy checks."""

from __future__ import annotations

from collections import Counter
from typing import Any

from components.capacity import capacity_report
from components.cost import cost_report, fleet_cost
from components.pool_inventory import pool_inventory
from components.spec import FleetSpec

from .offline import OfflineRun


def tenant_summary(spec: FleetSpec) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "gpuQuota": t.gpu_quota,
            "pools": list(t.pools),
            "priority": t.priority,
            "isolation": t.isolation,
            "cudaVersions": list(t.cuda_versions),
        }
        for t in spec.tenants
    ]


def build_plan(run: OfflineRun, violations: list[dict] | None = None) -> dict[str, Any]:
    custom = run.custom_resources
    return {
        "stack": run.stack,
        "resources": len(custom),
        "resourcesByType": dict(sorted(Counter(r.type for r in custom).items())),
        "nodePools": pool_inventory(run.spec),
        "tenants": tenant_summary(run.spec),
        "cost": cost_report(fleet_cost(run.spec)),
        "capacity": capacity_report(run.spec),
        "violations": violations or [],
    }
