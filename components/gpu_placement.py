"""Pure decisions shared by everything the fleet runs on GPU nodes (device plugin, GFD, exporter).

Taints and tolerations come only from pool_decisions; this module takes their union so that a
system DaemonSet reaches exactly the fleet's GPU pools and nothing else.
"""

from __future__ import annotations

from .fleet_labels import APP_LABEL, GPU_PRESENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, PART_OF_LABEL
from .pool_decisions import Taint, pool_taints
from .spec import FleetSpec


def gpu_taints(spec: FleetSpec) -> list[Taint]:
    """The union of every pool's taints, in pool order, without duplicates."""
    seen: list[Taint] = []
    for pool in spec.node_pools:
        for taint in pool_taints(spec, pool):
            if taint not in seen:
                seen.append(taint)
    return seen


def gpu_daemonset_tolerations(spec: FleetSpec) -> list[dict]:
    """Exactly the tolerations a per-GPU-node DaemonSet needs to reach every pool."""
    return [t.as_toleration() for t in gpu_taints(spec)]


def gpu_node_affinity() -> dict:
    """Required node affinity: GPU nodes only (every pool carries nvidia.com/gpu.present=true)."""
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": GPU_PRESENT_LABEL, "operator": "In", "values": ["true"]}]}
                ]
            }
        }
    }


def app_labels(app: str) -> dict[str, str]:
    return {APP_LABEL: app, PART_OF_LABEL: MANAGED_BY, MANAGED_BY_LABEL: MANAGED_BY}


def selector_labels(app: str) -> dict[str, str]:
    return {APP_LABEL: app}


SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"


def workload_annotations(spec: FleetSpec) -> dict[str, str]:
    """Annotations for the fleet's DaemonSets: skip the engine's readiness wait where
    cluster.awaitWorkloads is false (a control plane without kubelets never runs a pod)."""
    return {} if spec.cluster.await_workloads else {SKIP_AWAIT_ANNOTATION: "true"}


def image(repository: str, tag: str) -> str:
    return f"{repository}:{tag}"


def restricted_container_security(read_only_root: bool = True, add_capabilities: list[str] | None = None) -> dict:
    """No privilege escalation, every capability dropped (some added back only where needed)."""
    context = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
    }
    if add_capabilities:
        context["capabilities"]["add"] = list(add_capabilities)
    return context
