"""The human-readable form of a plan."""

from __future__ import annotations

from typing import Any

from ..text_table import table
from .sections import (
    capacity_sections,
    compare_sections,
    cost_sections,
    fair_share_sections,
    markdown_table,
    render_markdown,
    render_text,
    reservation_sections,
    scaling,
)


def plan_text(plan: dict[str, Any]) -> str:
    parts = [f"gpu-fleet plan for stack '{plan['stack']}': {plan['resources']} resources", ""]
    parts.append(table(["resource type", "count"], plan["resourcesByType"].items()))
    parts += ["", "Node pools"]
    parts.append(
        table(
            ["pool", "instance types", "capacity", "scaling", "workload", "min/desired/max", "GPU", "GPUs/node", "driver",
             "sharing"],
            [
                [
                    p["name"],
                    ",".join(p["instanceTypes"]),
                    p["capacity"],
                    scaling(p),
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
    if plan.get("compare"):
        parts.append(render_text(compare_sections(plan["compare"])))
    parts.append(render_text(cost_sections(plan) + reservation_sections(plan) + capacity_sections(plan)
                             + fair_share_sections(plan)))
    violations = plan.get("violations") or []
    mandatory = sum(v.get("level") == "mandatory" for v in violations)
    parts += ["", f"Policy violations: {len(violations)} ({mandatory} mandatory)"]
    if violations:
        parts.append(
            table(["level", "policy", "resource", "message"], [[v["level"], v["policy"], v["resource"], v["message"]] for v in violations])
        )
    return "\n".join(parts) + "\n"


def plan_markdown(plan: dict[str, Any]) -> str:
    """The plan as a PR comment: changes first (with --compare-to), then cost and capacity."""
    parts = [f"## gpu-fleet plan: `{plan['stack']}` ({plan['resources']} resources)", ""]
    violations = plan.get("violations") or []
    if violations:
        parts += [f"**{len(violations)} policy violation(s)**", ""]
        parts += [
            markdown_table(
                ["policy", "level", "resource", "message"],
                [[v.get("policy", ""), v.get("level", ""), v.get("resource", ""), v.get("message", "")] for v in violations],
            ),
            "",
        ]
    if plan.get("compare"):
        parts.append(render_markdown(compare_sections(plan["compare"])))
    parts.append(render_markdown(cost_sections(plan) + reservation_sections(plan) + capacity_sections(plan)
                                 + fair_share_sections(plan)))
    parts += [
        "<details><summary>Resources by type</summary>",
        "",
        markdown_table(["resource type", "count"], list(plan["resourcesByType"].items())),
        "",
        "</details>",
    ]
    return "\n".join(parts) + "\n"
