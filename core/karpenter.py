"""A Karpenter pool as Karpenter's objects. Pure.

Karpenter (sigs.k8s.io/karpenter, the AWS provider github.com/aws/karpenter-provider-aws; the release is
KARPENTER_VERSION in tools/versions.env, its CRDs vendored in components/aws/vendor/karpenter) launches a node
when a pod is pending that no node fits, from the NodePool whose requirements, taints and limits allow it, and
removes nodes by disruption: consolidation of empty (or underutilized) nodes after consolidateAfter, at most
the disruption budget at once. A pool with provisioner karpenter is one NodePool, named as the pool:

- the node template carries the pool's labels and taints exactly as a node group pool's nodes get them, so
  every toleration, node affinity, flavor and policy reads a Karpenter node as a node group node;
- requirements pin the pool's instance types and capacity type (karpenter.sh/capacity-type);
- limits: the pool's maxSize in nodes, and in every GPU resource its nodes advertise (GPUs, MIG instances, or
  GPUs x replicas under time-slicing), so capacity and cost read maxSize for both provisioners;
- disruption: the pool's consolidation policy (WhenEmpty for training: a busy training node is never
  consolidated), consolidateAfter and a budget of nodes disrupted at once;
- expireAfter Never: nodes change when the program changes the node class (drift), not on a timer that would
  cut a training run short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .plan import PoolPlan

NODEPOOL_API_VERSION = "karpenter.sh/v1"
NODECLASS_GROUP = "karpenter.k8s.aws"
NODECLASS_KIND = "EC2NodeClass"
# Well-known requirement keys (sigs.k8s.io/karpenter pkg/apis/v1/labels.go: CapacityTypeLabelKey; the kubelet's
# node.kubernetes.io/instance-type and kubernetes.io/os, k8s.io/api core/v1 well_known_labels.go).
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
OS_LABEL = "kubernetes.io/os"
# The label Karpenter puts on every node it launches: the NodePool's name (pkg/apis/v1/labels.go NodePoolLabelKey).
NODEPOOL_LABEL = "karpenter.sh/nodepool"
# The NodePool limit on the number of nodes (pkg/utils/resources/resources.go Node; the scheduler counts one per
# node claim, pkg/controllers/provisioning/scheduling/scheduler.go).
NODES_LIMIT = "nodes"
# A pod annotation Karpenter never disrupts the node of (pkg/apis/v1/labels.go DoNotDisruptAnnotationKey).
DO_NOT_DISRUPT_ANNOTATION = "karpenter.sh/do-not-disrupt"
NEVER = "Never"


@dataclass(frozen=True)
class NodeClassRef:
    """The node class a NodePool launches from: the pool's EC2NodeClass, or a stand-in (the local cluster's)."""

    name: str
    group: str = NODECLASS_GROUP
    kind: str = NODECLASS_KIND

    def as_manifest(self) -> dict[str, str]:
        return {"group": self.group, "kind": self.kind, "name": self.name}


def node_pool_limits(pool: PoolPlan) -> dict[str, str]:
    """maxSize in nodes and in every GPU resource the pool's nodes advertise. Karpenter counts a launched node by
    its instance type's GPUs until it registers, then by what the node advertises (pkg/controllers/state/
    statenode.go Capacity), which time-slicing and MIG make larger: limits in advertised units never stop a
    node the nodes limit allows."""
    limits = {NODES_LIMIT: str(pool.max_size)}
    limits.update({resource: str(units * pool.max_size) for resource, units in sorted(pool.gpu_resources.items())})
    return limits


def node_pool(pool: PoolPlan, node_class: NodeClassRef | None = None) -> dict[str, Any]:
    """The pool's NodePool (karpenter.sh/v1). `node_class`: default the pool's EC2NodeClass (named as the pool)."""
    if pool.disruption is None:
        raise ValueError(f"pool {pool.name!r} is not a Karpenter pool (provisioner {pool.provisioner!r})")
    disruption = pool.disruption
    return {
        "apiVersion": NODEPOOL_API_VERSION,
        "kind": "NodePool",
        "metadata": {"name": pool.name},
        "spec": {
            "template": {
                "metadata": {"labels": dict(pool.labels)},
                "spec": {
                    "nodeClassRef": (node_class or NodeClassRef(pool.name)).as_manifest(),
                    "requirements": [
                        {"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": list(pool.instance_types)},
                        {"key": CAPACITY_TYPE_LABEL, "operator": "In", "values": [pool.capacity]},
                        {"key": OS_LABEL, "operator": "In", "values": ["linux"]},
                    ],
                    "taints": [taint.as_kubernetes() for taint in pool.taints],
                    "expireAfter": NEVER,
                },
            },
            "limits": node_pool_limits(pool),
            "disruption": {
                "consolidationPolicy": disruption.consolidation,
                "consolidateAfter": disruption.consolidate_after,
                "budgets": [{"nodes": disruption.budget}],
            },
        },
    }
