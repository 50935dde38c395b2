"""SystemNodePool: the non-GPU, on-demand node group that runs the cluster's own services.

CoreDNS tolerates no GPU taint, and every GPU node carries one: without untainted nodes the coredns
add-on never schedules, stays DEGRADED and its creation times out (pulumi/pulumi-eks#1819,
terraform-aws-modules/terraform-aws-eks#3001). This pool carries no taint and no user data: the
standard AL2023 EKS AMI joins with what EKS merges in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from core.names import ON_DEMAND_CAPACITY_TYPE
from core.plan import SystemPoolPlan

from .node_basics import launch_template, node_group, node_role


@dataclass(frozen=True)
class SystemPoolArgs:
    pool: SystemPoolPlan
    """Instance types, sizes, disk and labels of the pool."""
    cluster_name: pulumi.Input[str]
    """EKS cluster the node group joins."""
    subnet_ids: tuple
    """Private subnets, all of them (CoreDNS's replicas spread over zones)."""


class SystemNodePool(pulumi.ComponentResource):
    def __init__(self, name: str, args: SystemPoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:nodepool:SystemNodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pool = args.pool
        role = node_role(name, child)
        template = launch_template(name, pool.name, pool.disk_gib, child)
        self.node_group = node_group(
            name,
            pool_name=pool.name,
            cluster_name=args.cluster_name,
            role=role,
            template=template,
            subnet_ids=list(args.subnet_ids),
            sizes=(pool.min_size, pool.desired_size, pool.max_size),
            parent=self,
            ami_type=pool.ami_type,
            capacity_type=ON_DEMAND_CAPACITY_TYPE,
            instance_types=list(pool.instance_types),
            labels=dict(pool.labels),
        )
        self.register_outputs({"nodeGroupName": self.node_group.node_group_name})
