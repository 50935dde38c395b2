"""FairShareQueues: the tenants' Kueue queues, as core.queues decided them.

ResourceFlavors (one per pool, one for cpu and memory), the EFA pools' Topology, a Cohort per set of
shared pools, a ClusterQueue per tenant, a LocalQueue in each tenant namespace, WorkloadPriorityClasses
matching the fleet's PriorityClasses, and, where queues.requireQueueName is on, an admission policy that
refuses a GPU Job without a queue in a tenant namespace. The objects are plain dicts (the builders
below) registered as Kubernetes resources of Kueue's API (the CRDs of the Kueue component).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from core.names import KUEUE_API_VERSION, QUEUE_NAME_LABEL, TENANT_LABEL
from core.queues import (
    CPU_MEMORY,
    CPU_MEMORY_FLAVOR,
    EFA_TOPOLOGY,
    EFA_TOPOLOGY_LEVELS,
    CohortPlan,
    FlavorPlan,
    FlavorQuotas,
    QueuePlan,
    ResourceQuota,
    TenantQueue,
)

from .admission import cel_literal, containers_expression, requests_gpus_expression, tenant_namespace_selector
from .meta import MANAGED, object_meta
from .scheduling import priority_classes

QUEUE_POLICY = "gpufleet-queue-name-required"
# The denial message of the queue policy (the live test matches on it).
QUEUE_REQUIRED_MESSAGE = f"GPU Jobs in tenant namespaces must name a queue: set the label {QUEUE_NAME_LABEL}"


def kueue_object(kind: str, name: str, body: dict[str, Any], namespace: Optional[str] = None,
                 labels: Optional[dict] = None) -> dict[str, Any]:
    """A manifest of Kueue's API: spec (or, for a WorkloadPriorityClass, top-level fields) in `body`."""
    return {"apiVersion": KUEUE_API_VERSION, "kind": kind, "metadata": object_meta(name, namespace, labels), **body}


def _quota(quota: ResourceQuota) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": quota.resource, "nominalQuota": quota.nominal}
    if quota.borrowing_limit is not None:
        entry["borrowingLimit"] = quota.borrowing_limit
    if quota.lending_limit is not None:
        entry["lendingLimit"] = quota.lending_limit
    return entry


def _gpu_group(covered: Sequence[str], flavors: Sequence[FlavorQuotas]) -> dict[str, Any]:
    """Every flavor lists the covered resources in the covered order (webhook-only rule of Kueue:
    pkg/webhooks/clusterqueue_webhook.go validateFlavorQuotas)."""
    return {
        "coveredResources": list(covered),
        "flavors": [{"name": f.pool, "resources": [_quota(q) for q in f.quotas]} for f in flavors],
    }


def flavor_manifest(flavor: FlavorPlan) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeLabels": dict(flavor.node_labels), "tolerations": [dict(t) for t in flavor.tolerations]}
    if flavor.topology:
        spec["topologyName"] = flavor.topology
    return kueue_object("ResourceFlavor", flavor.name, {"spec": spec})


def cpu_memory_flavor_manifest() -> dict[str, Any]:
    """No node labels: cpu and memory are charged whichever pool the GPUs come from."""
    return kueue_object("ResourceFlavor", CPU_MEMORY_FLAVOR, {"spec": {}})


def topology_manifest() -> dict[str, Any]:
    return kueue_object("Topology", EFA_TOPOLOGY, {"spec": {"levels": [{"nodeLabel": level} for level in EFA_TOPOLOGY_LEVELS]}})


def cohort_manifest(cohort: CohortPlan) -> dict[str, Any]:
    """The cohort's own nominal quota: its pools' capacity that no tenant's nominal quota claims."""
    return kueue_object("Cohort", cohort.name, {"spec": {"resourceGroups": [_gpu_group(cohort.covered, cohort.idle)]}})


def cluster_queue_manifest(queue: TenantQueue) -> dict[str, Any]:
    """The tenant's queue: only its namespace may use it; its cpu and memory are its own (borrowingLimit 0);
    an owner reclaims lent GPUs from any borrower (reclaimWithinCohort Any) and, inside the queue, a workload
    preempts lower-priority ones; fair sharing orders the borrowers by their share over their weight."""
    cpu_memory = {
        "coveredResources": list(CPU_MEMORY),
        "flavors": [{
            "name": CPU_MEMORY_FLAVOR,
            "resources": [{"name": r, "nominalQuota": v, "borrowingLimit": 0} for r, v in zip(CPU_MEMORY, (queue.cpu, queue.memory))],
        }],
    }
    return kueue_object("ClusterQueue", queue.name, {"spec": {
        "cohortName": queue.cohort,
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": queue.tenant}},
        "queueingStrategy": "BestEffortFIFO",
        "resourceGroups": [_gpu_group(queue.covered, queue.flavors), cpu_memory],
        "preemption": {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"},
        "fairSharing": {"weight": f"{queue.weight:g}"},
    }}, labels={**MANAGED, TENANT_LABEL: queue.tenant})


def local_queue_manifest(queue: TenantQueue) -> dict[str, Any]:
    return kueue_object("LocalQueue", queue.name, {"spec": {"clusterQueue": queue.name}}, namespace=queue.tenant)


def workload_priority_class_manifests() -> list[dict[str, Any]]:
    """Named and valued as the fleet's PriorityClasses (components/kubernetes/scheduling.py)."""
    return [
        kueue_object("WorkloadPriorityClass", c.name, {"value": c.value, "description": c.description})
        for c in priority_classes()
    ]


def queue_policy_spec() -> dict[str, Any]:
    containers = containers_expression("object.spec.template.spec")
    label = cel_literal(QUEUE_NAME_LABEL)
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "namespaceSelector": tenant_namespace_selector(),
            "resourceRules": [
                {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["jobs"]}
            ],
        },
        "validations": [{
            "expression": f"!({requests_gpus_expression(f'({containers})')}) || "
            f"(has(object.metadata.labels) && {label} in object.metadata.labels && object.metadata.labels[{label}] != '')",
            "message": QUEUE_REQUIRED_MESSAGE,
            "reason": "Forbidden",
        }],
    }


def queue_policy_binding_spec() -> dict[str, Any]:
    return {
        "policyName": QUEUE_POLICY,
        "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": tenant_namespace_selector()},
    }


def queue_manifests(queues: QueuePlan) -> list[list[dict[str, Any]]]:
    """Every Kueue object of the fleet, in stages: what the queues name (priority classes, topology, flavors,
    cohorts), the ClusterQueues, the LocalQueues. Each stage waits for the one before, so that a destroy
    removes a queue before the flavors it holds (Kueue keeps a flavor in use with a finalizer)."""
    return [
        [
            *workload_priority_class_manifests(),
            *([topology_manifest()] if queues.topology_needed else []),
            cpu_memory_flavor_manifest(),
            *(flavor_manifest(f) for f in queues.flavors),
            *(cohort_manifest(c) for c in queues.cohorts),
        ],
        [cluster_queue_manifest(q) for q in queues.tenants],
        [local_queue_manifest(q) for q in queues.tenants],
    ]


@dataclass(frozen=True)
class FairShareQueuesArgs:
    queues: QueuePlan


class FairShareQueues(pulumi.ComponentResource):
    """The fleet's Kueue objects; needs the Kueue component (CRDs, webhooks) and the tenant namespaces."""

    def __init__(self, name: str, args: FairShareQueuesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("gpufleet:queues:FairShareQueues", name, None, opts)
        before: list[pulumi.Resource] = []
        for stage in queue_manifests(args.queues):
            before = [
                # Kueue's kinds as the provider names custom resources: kubernetes:<apiVersion>:<kind>.
                pulumi.CustomResource(
                    f"kubernetes:{manifest['apiVersion']}:{manifest['kind']}",
                    manifest["metadata"]["name"],
                    manifest,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=before),
                )
                for manifest in stage
            ]
        if args.queues.require_queue_name:
            policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                QUEUE_POLICY, metadata=object_meta(QUEUE_POLICY), spec=queue_policy_spec(),
                opts=pulumi.ResourceOptions(parent=self),
            )
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{QUEUE_POLICY}-binding", metadata=object_meta(QUEUE_POLICY), spec=queue_policy_binding_spec(),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
        self.register_outputs({"clusterQueues": [q.name for q in args.queues.tenants]})
