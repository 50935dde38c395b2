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

and one EC2NodeClass (karpenter.k8s.aws/v1), named as the pool, for how its instances boot: the pool's AMI pinned
to one EKS AMI release (facts eks_amis) by SSM parameter, or its custom AMI by id; the same user data as a node
group pool's, so the same Ansible boot and verification gate apply; IMDSv2 with hop limit 2 and an encrypted gp3
root volume as every launch template of the fleet; the node role; subnets and security groups by id; a reserved
pool's capacity reservations (and no placement group: PoolPlan.in_placement_group).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .facts import load_facts
from .names import POOL_LABEL
from .names import AL2023_ROOT_DEVICE, IMDS_HOP_LIMIT, KARPENTER, NEVER, ROOT_VOLUME_TYPE
from .plan import NVIDIA_AMI_TYPE, PoolPlan, Taint
from .spec import ReservationSpec

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
# The taint a node Karpenter launches registers with and Karpenter removes once it has synced the node (pkg/apis/v1/
# taints.go UnregisteredNoExecuteTaint; pkg/controllers/nodeclaim/lifecycle/registration.go logs a node without it
# as a registration race). On AL2023 Karpenter's own NodeConfig adds it (karpenter-provider-aws pkg/providers/
# amifamily/resolver.go); a custom AMI's user data, which Karpenter passes through unchanged, must.
UNREGISTERED_TAINT = Taint("karpenter.sh/unregistered", "", "NoExecute")
NODECLASS_API_VERSION = f"{NODECLASS_GROUP}/v1"
# amiFamily (pkg/apis/v1/ec2nodeclass.go): AL2023 merges the node's NodeConfig into the user data (nodeadm);
# Custom passes the user data through unchanged, as a custom AMI boots it itself.
AL2023_FAMILY = "AL2023"
CUSTOM_FAMILY = "Custom"


def registration_taints(pool: PoolPlan) -> tuple[Taint, ...] | None:
    """The taints a pool's user data registers its nodes with; None where Karpenter's NodeConfig does (AL2023: its
    part, merged after the pool's, sets registerWithTaints and --node-labels from the NodePool, bootstrap/nodeadm.go;
    a --register-with-taints flag in the pool's part would override it and drop UNREGISTERED_TAINT)."""
    if pool.provisioner != KARPENTER:
        return tuple(pool.taints)
    return (*pool.taints, UNREGISTERED_TAINT) if pool.custom_ami else None


def ami_parameter(kubernetes_version: str, variant: str, release: str) -> str:
    """The SSM parameter holding the id of one EKS-optimized AL2023 AMI (x86_64): the path Karpenter itself reads
    for an al2023@<release> alias (pkg/providers/amifamily/al2023.go resolvePath). An alias would pick the nvidia
    variant for every GPU instance type; a pool whose driver Ansible installs boots the standard one."""
    name = f"amazon-eks-node-al2023-x86_64-{variant}-{kubernetes_version}-{release}"
    return f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/x86_64/{variant}/{name}/image_id"


def ami_variant(pool: PoolPlan) -> str:
    """nvidia: the EKS NVIDIA AMI ships the driver (drivers.install ami); standard: Ansible installs it."""
    return "nvidia" if pool.ami_type == NVIDIA_AMI_TYPE else "standard"


@dataclass(frozen=True)
class NodeClassPlacement:
    """Where a pool's instances launch and as whom; resolved from the cluster at deploy time."""

    role: str
    """The node role's name (Karpenter makes the instance profile)."""
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    kubernetes_version: str
    root_device: str = AL2023_ROOT_DEVICE
    """The image's root device: the AL2023 AMIs' /dev/xvda, a custom AMI's own."""
    placement_group: str | None = None
    """The cluster placement group of an EFA pool."""


def node_class(pool: PoolPlan, placement: NodeClassPlacement, user_data: str) -> dict[str, Any]:
    """The pool's EC2NodeClass (karpenter.k8s.aws/v1)."""
    if pool.custom_ami:
        family, terms = CUSTOM_FAMILY, [{"id": pool.image_id}]
    else:
        release = load_facts().eks_amis.release
        family = AL2023_FAMILY
        terms = [{"ssmParameter": ami_parameter(placement.kubernetes_version, ami_variant(pool), release)}]
    spec: dict[str, Any] = {
        "amiFamily": family,
        "amiSelectorTerms": terms,
        "role": placement.role,
        "subnetSelectorTerms": [{"id": subnet} for subnet in placement.subnet_ids],
        "securityGroupSelectorTerms": [{"id": group} for group in placement.security_group_ids],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": IMDS_HOP_LIMIT,
        },
        "blockDeviceMappings": [
            {
                "deviceName": placement.root_device,
                "rootVolume": True,
                "ebs": {"volumeSize": f"{pool.disk_gib}Gi", "volumeType": ROOT_VOLUME_TYPE, "encrypted": True,
                        "deleteOnTermination": True},
            }
        ],
        "userData": user_data,
        "tags": {POOL_LABEL: pool.name},
    }
    if pool.reservation is not None:
        spec["capacityReservationSelectorTerms"] = reservation_terms(pool.reservation)
    if placement.placement_group is not None:
        spec["placementGroupSelector"] = {"name": placement.placement_group}
    return {"apiVersion": NODECLASS_API_VERSION, "kind": NODECLASS_KIND, "metadata": {"name": pool.name}, "spec": spec}


def reservation_terms(reservation: ReservationSpec) -> list[dict[str, Any]]:
    """The reservations a reserved pool launches into (EC2NodeClass capacityReservationSelectorTerms, ORed): one
    term per id, or one term of tags. Karpenter launches a NodePool that requires capacity type reserved only into
    them, targeted (capacity-reservations-only), a Capacity Block in its capacity-block market, and drains a block's
    nodes 40 minutes before its end (karpenter-provider-aws pkg/providers/launchtemplate/types.go, pkg/controllers/
    capacityreservation/expiration/controller.go)."""
    if reservation.tags is not None:
        return [{"tags": dict(reservation.tags)}]
    return [{"id": reservation_id} for reservation_id in reservation.ids]


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
