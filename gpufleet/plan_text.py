"""The human-readable form of a plan."""

from __future__ import annotations

from typing import Any

from .text_table import table


def plan_text(plan: dict[str, Any]) -> str:
    parts = [f"gpu-fleet plan for stack '{plan['stack']}': {plan['resources']} resources", ""]
    parts.append(table(["resource type", "count"], plan["resourcesByType"].items()))
    parts += ["", "Node pools"]
    parts.append(
        table(
            ["pool", "instance types", "capacity", "workload", "min/desired/max", "GPU", "GPUs/node", "driver", "sharing"],
            [
                [
                    p["name"],
                    ",".join(p["instanceTypes"]),
                    p["capacity"],
                    p["workload"],
                    f"{p['minSize']}/{p['desiredSize']}/{p['maxSize']}",
                    p["gpu"],
                    p["gpusPerNode"],
                    p["driverVersion"],
                    p["sharing"]["mode"],
                ]
                for p in plan["nodePools"]
            ],
        )
    )
    if plan["tenants"]:
        parts += ["", "Tenants"]
        parts.append(
            table(
                ["tenant", "GPU quota", "pools", "priority", "isolation", "CUDA"],
                [
                    [t["name"], t["gpuQuota"], ",".join(t["pools"]), t["priority"], t["isolation"], ",".join(t["cudaVersions"]) or "-"]
                    for t in plan["tenants"]
                ],
            )
        )
    return "\n".join(parts) + "\n"
