"""One style for every manifest the Kubernetes layer writes: plain dicts, built here.

Object metadata with the fleet's managed-by labels, the app labels of the fleet's own workloads,
container security, and the skeleton of a DaemonSet on every GPU node (the device plugin, GPU
Feature Discovery and dcgm-exporter differ only in their pod spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from core.names import APP_LABEL, GPU_PRESENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, PART_OF_LABEL, SYSTEM_NAMESPACE

SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
# Server-Side Apply with force on every object of the fleet: a hand edit (`kubectl edit`, `kubectl label`) makes
# its field manager the owner of the fields it changed, and the provider's next apply of those fields fails with
# a field conflict, which fails the whole `pulumi up`. With force the fleet takes its own fields back; fields it
# does not declare stay with whoever set them. The provider reads this annotation per object before its
# enablePatchForce option and PULUMI_K8S_ENABLE_PATCH_FORCE (pulumi/pulumi-kubernetes
# provider/pkg/await/await.go, patchForce).
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"
NODE_CRITICAL = "system-node-critical"
MANAGED = {MANAGED_BY_LABEL: MANAGED_BY}


def object_meta(
    name: str,
    namespace: Optional[pulumi.Input[str]] = None,
    labels: Optional[Mapping[str, str]] = None,
    annotations: Optional[Mapping[str, str]] = None,
) -> dict[str, Any]:
    """metadata for an object of the fleet: managed-by unless `labels` says otherwise, applied with force."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(MANAGED if labels is None else labels)
    meta["annotations"] = {**(annotations or {}), PATCH_FORCE_ANNOTATION: "true"}
    return meta


def app_labels(app: str) -> dict[str, str]:
    return {APP_LABEL: app, PART_OF_LABEL: MANAGED_BY, **MANAGED}


def selector_labels(app: str) -> dict[str, str]:
    return {APP_LABEL: app}


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


def node_affinity(label: str, values: list[str]) -> dict:
    """Required node affinity: only nodes whose `label` is one of `values`."""
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": label, "operator": "In", "values": values}]}]
            }
        }
    }


def gpu_node_affinity() -> dict:
    """Required node affinity: GPU nodes only (every pool carries nvidia.com/gpu.present=true)."""
    return node_affinity(GPU_PRESENT_LABEL, ["true"])


def gpu_pod_placement(tolerations: tuple[dict, ...]) -> dict:
    """What puts a pod on every GPU node and nowhere else: affinity, the pools' tolerations, node-critical."""
    return {
        "priorityClassName": NODE_CRITICAL,
        "affinity": gpu_node_affinity(),
        "tolerations": [dict(t) for t in tolerations],
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    }


def workload_annotations(await_workloads: bool) -> dict[str, str]:
    """Annotations for the fleet's DaemonSets: skip the engine's readiness wait where
    cluster.awaitWorkloads is false (a control plane without kubelets never runs a pod)."""
    return {} if await_workloads else {SKIP_AWAIT_ANNOTATION: "true"}


@dataclass(frozen=True)
class GpuDaemons:
    """Where and how the fleet's own DaemonSets run on GPU nodes (device plugin, GFD, dcgm-exporter)."""

    tolerations: tuple[dict, ...]
    """The union of the pools' taints as tolerations (FleetPlan.gpu_tolerations): every GPU node, nothing else."""
    await_workloads: bool = True
    """Whether `pulumi up` waits for the DaemonSets to be ready (false where no kubelet runs pods)."""
    namespace: pulumi.Input[str] = SYSTEM_NAMESPACE
    """The system namespace (an Output of the Namespace, so the DaemonSets wait for it)."""


def gpu_daemonset(name: str, daemons: GpuDaemons, pod_spec: dict, opts: pulumi.ResourceOptions) -> k8s.apps.v1.DaemonSet:
    """A DaemonSet of the fleet's own on GPU nodes, rolled one node at a time."""
    labels = app_labels(name)
    return k8s.apps.v1.DaemonSet(
        name,
        metadata=object_meta(name, daemons.namespace, labels, workload_annotations(daemons.await_workloads)),
        spec={
            "selector": {"matchLabels": selector_labels(name)},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
        opts=opts,
    )
