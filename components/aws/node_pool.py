"""GpuNodePool: one EKS managed node group of GPU instances with its IAM role and launch template.

On the baseline every node group has (node_basics: IMDSv2, encrypted root volume, desired size left
to an autoscaler), the launch template attaches EFA interfaces in a cluster placement group when
asked (not for a reserved pool: PoolPlan.in_placement_group), targets a reserved pool's reservation,
and carries the user data that installs and verifies the driver at boot (core.boot).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from core.names import CAPACITY_BLOCK_CAPACITY_TYPE, CAPACITY_BLOCK_MARKET_TYPE, MINIMAL_UPDATE_STRATEGY
from core.plan import PoolPlan

from .bundle import read_policy
from .node_basics import image_root_device, launch_template, node_group, node_role



@dataclass(frozen=True)
class NodePoolArgs:
    """What a GpuNodePool is built from."""

    pool: PoolPlan
    """The pool to create: instance types, sizes, labels, taints, AMI, disk, EFA."""
    cluster_name: pulumi.Input[str]
    """EKS cluster the node group joins."""
    subnet_ids: tuple
    """Private subnets; an EFA pool uses the first one only (a cluster placement group is one AZ)."""
    user_data: Optional[pulumi.Input[str]] = None
    """User data (plain text), if any: a MIME multipart EKS merges into the node's bootstrap (AL2023), or a
    cloud-config that bootstraps the node itself (a custom Ubuntu AMI, where EKS merges nothing)."""
    bundle_bucket_arn: Optional[pulumi.Input[str]] = None
    """Bucket of the playbook bundle the nodes read at boot; the node role may read it, nothing more."""
    security_group_ids: tuple = ()
    """Security groups of the EFA interfaces: the cluster's, whose members exchange all traffic, as EFA needs."""


def reservation_launch(pool: PoolPlan) -> dict:
    """What a reserved pool's launch template adds: the reservation it launches into, and for a Capacity Block the
    capacity-block market and the block's instance type, all three of which EKS requires of a CAPACITY_BLOCK node
    group (EKS user guide, capacity-blocks-mng); an ODCR pool's group stays ON_DEMAND. {} for other pools."""
    if pool.reservation is None:
        return {}
    (reservation_id,) = pool.reservation.ids  # the spec allows a reserved node group one id
    extra: dict = {
        "capacity_reservation_specification": aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs(
            capacity_reservation_target=aws.ec2.LaunchTemplateCapacityReservationSpecificationCapacityReservationTargetArgs(
                capacity_reservation_id=reservation_id
            )
        )
    }
    if pool.capacity_type == CAPACITY_BLOCK_CAPACITY_TYPE:
        (instance_type,) = pool.instance_types  # the spec allows a Capacity Block one type
        extra["instance_market_options"] = aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(
            market_type=CAPACITY_BLOCK_MARKET_TYPE
        )
        extra["instance_type"] = instance_type
    return extra


def network_interfaces(efa_count: int, security_group_ids: tuple = ()) -> list[aws.ec2.LaunchTemplateNetworkInterfaceArgs]:
    """One EFA interface per network card; only the first is the primary (device index 0). Interfaces in a
    launch template carry the security groups themselves (EKS puts none on them), and EFA traffic needs a
    group that admits all traffic from its own members (AWS EFA user guide, security group)."""
    return [
        aws.ec2.LaunchTemplateNetworkInterfaceArgs(
            network_card_index=card,
            device_index=0 if card == 0 else 1,
            interface_type="efa",
            delete_on_termination="true",
            security_groups=list(security_group_ids),
        )
        for card in range(efa_count)
    ]


class GpuNodePool(pulumi.ComponentResource):
    """A managed node group of GPU instances, labelled and tainted for the fleet."""

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:nodepool:GpuNodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pool = args.pool
        role = node_role(name, child)
        self.role = role.role
        if args.bundle_bucket_arn is not None:
            aws.iam.RolePolicy(
                f"{name}-bundle-read",
                role=self.role.id,
                policy=pulumi.Output.from_input(args.bundle_bucket_arn).apply(read_policy),
                opts=child,
            )
        efa_count = pool.efa_interfaces
        placement = None
        if pool.in_placement_group:
            placement = aws.ec2.PlacementGroup(f"{name}-efa", strategy="cluster", opts=child)
        root_device = image_root_device(pool, self)
        template = launch_template(
            name,
            pool.name,
            pool.disk_gib,
            child,
            root_device,
            image_id=pool.image_id,
            network_interfaces=network_interfaces(efa_count, args.security_group_ids) or None,
            placement=aws.ec2.LaunchTemplatePlacementArgs(group_name=placement.name) if placement else None,
            user_data=pulumi.Output.from_input(args.user_data).apply(
                lambda text: base64.b64encode(text.encode()).decode() if text else None
            ),
            **reservation_launch(pool),
        )
        self.node_group = node_group(
            name,
            pool_name=pool.name,
            cluster_name=args.cluster_name,
            role=role,
            template=template,
            subnet_ids=list(args.subnet_ids[:1] if pool.in_placement_group else args.subnet_ids),
            sizes=(pool.min_size, pool.desired_size, pool.max_size),
            parent=self,
            update_strategy=MINIMAL_UPDATE_STRATEGY if pool.reservation is not None else None,
            ami_type=pool.ami_type,
            capacity_type=pool.capacity_type,
            # A Capacity Block's launch template names the instance type (EKS rejects it in both places).
            instance_types=None if pool.capacity_type == CAPACITY_BLOCK_CAPACITY_TYPE else list(pool.instance_types),
            labels=dict(pool.labels),
            taints=[aws.eks.NodeGroupTaintArgs(**t.as_eks()) for t in pool.taints],
            # A GPU the node monitoring agent finds faulty (XID errors, DCGM diagnostics) gets its node
            # replaced, one node at a time (EKS user guide, "Enable node auto repair").
            node_repair_config=aws.eks.NodeGroupNodeRepairConfigArgs(enabled=True, max_parallel_nodes_repaired_count=1),
        )
        self.register_outputs({"nodeGroupName": self.node_group.node_group_name, "roleArn": self.role.arn})
