"""KarpenterNodePool: one Karpenter pool's objects, its EC2NodeClass and NodePool (core.karpenter renders both),
and for an EFA pool the cluster placement group its instances launch in.

The node class takes the same user data as a node group pool's (the Ansible boot and verification gate), which
Karpenter merges with its own NodeConfig on AL2023 and passes through unchanged on a custom AMI. EFA interfaces
are attached by Karpenter itself, one per network card, to an instance launched for pods that request
vpc.amazonaws.com/efa (karpenter-provider-aws pkg/providers/amifamily/resolver.go); an EFA pool's instances launch
in one subnet, the first, as a cluster placement group is one zone (a reserved pool's in its reservations, with no
placement group).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from core.karpenter import NODECLASS_API_VERSION, NODECLASS_KIND, NODEPOOL_API_VERSION, \
    NodeClassPlacement, node_class, node_pool
from core.plan import PoolPlan

from ..kubernetes.meta import object_meta
from .node_basics import image_root_device


@dataclass(frozen=True)
class KarpenterNodePoolArgs:
    pool: PoolPlan
    node_role: pulumi.Input[str]
    """The nodes' IAM role (its name)."""
    subnet_ids: tuple
    security_group_ids: tuple
    kubernetes_version: str
    user_data: pulumi.Input[str]
    """The pool's boot user data, as a node group pool gets it."""


class KarpenterNodePool(pulumi.ComponentResource):
    """The pool's EC2NodeClass and NodePool (children take the Kubernetes provider from opts.providers)."""

    def __init__(self, name: str, args: KarpenterNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:nodepool:KarpenterNodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pool = args.pool
        placement_group = None
        subnets = list(args.subnet_ids)
        if pool.in_placement_group:
            placement_group = aws.ec2.PlacementGroup(f"{name}-efa", strategy="cluster", opts=child).name
            subnets = subnets[:1]
        root_device = image_root_device(pool, self)
        document = pulumi.Output.all(
            args.node_role, subnets, list(args.security_group_ids), root_device, placement_group, args.user_data
        ).apply(lambda v: node_class(pool, NodeClassPlacement(
            role=v[0], subnet_ids=tuple(v[1]), security_group_ids=tuple(v[2]),
            kubernetes_version=args.kubernetes_version, root_device=v[3], placement_group=v[4]), v[5]))
        self.node_class = k8s.apiextensions.CustomResource(
            f"{name}-nodeclass",
            api_version=NODECLASS_API_VERSION,
            kind=NODECLASS_KIND,
            metadata=object_meta(pool.name),
            spec=document.apply(lambda d: d["spec"]),
            opts=child,
        )
        rendered = node_pool(pool)
        self.node_pool = k8s.apiextensions.CustomResource(
            name,
            api_version=NODEPOOL_API_VERSION,
            kind=rendered["kind"],
            metadata=object_meta(pool.name),
            spec=rendered["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.node_class]),
        )
        self.register_outputs({"nodePool": pool.name})
