"""GpuNodePool: one EKS managed node group of GPU instances with its IAM role and launch template.

The launch template requires IMDSv2, encrypts the gp3 root volume, attaches EFA interfaces in a
cluster placement group when asked, and carries the user data that installs and verifies the
driver at boot (core.boot). Desired size is set once: an autoscaler owns it afterwards.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from core.names import NODE_ROLE_SUFFIX, POOL_LABEL
from core.plan import PoolPlan

from .bundle import read_policy
from .iam import NODE_POLICIES, assume_role_policy

IMDS_HOP_LIMIT = 2  # 2 lets pods behind the node's network namespace reach IMDSv2; 1 would block them.
# The root device of the AL2023 EKS AMIs EKS picks by AMI type (Amazon Linux AMIs: /dev/xvda). A custom
# AMI's is read from the image itself: Canonical's Ubuntu AMIs use /dev/sda1, and a mapping for any
# other name adds an empty volume while the real root keeps the image's size and encryption.
EKS_AMI_ROOT_DEVICE = "/dev/xvda"


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
        self.role = aws.iam.Role(f"{name}{NODE_ROLE_SUFFIX}", assume_role_policy=assume_role_policy("ec2.amazonaws.com"), opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-{arn.rsplit('/', 1)[1]}", role=self.role.name, policy_arn=arn, opts=child)
            for arn in NODE_POLICIES
        ]
        if args.bundle_bucket_arn is not None:
            aws.iam.RolePolicy(
                f"{name}-bundle-read",
                role=self.role.id,
                policy=pulumi.Output.from_input(args.bundle_bucket_arn).apply(read_policy),
                opts=child,
            )
        efa_count = pool.efa_interfaces
        placement = None
        if efa_count:
            placement = aws.ec2.PlacementGroup(f"{name}-efa", strategy="cluster", opts=child)
        root_device = EKS_AMI_ROOT_DEVICE
        if pool.image_id is not None:
            root_device = aws.ec2.get_ami_output(
                filters=[aws.ec2.GetAmiFilterArgs(name="image-id", values=[pool.image_id])],
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).root_device_name
        launch_template = aws.ec2.LaunchTemplate(
            name,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=IMDS_HOP_LIMIT
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=root_device,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=pool.disk_gib, volume_type="gp3", encrypted="true", delete_on_termination="true"
                    ),
                )
            ],
            image_id=pool.image_id,
            network_interfaces=network_interfaces(efa_count, args.security_group_ids) or None,
            placement=aws.ec2.LaunchTemplatePlacementArgs(group_name=placement.name) if placement else None,
            user_data=pulumi.Output.from_input(args.user_data).apply(
                lambda text: base64.b64encode(text.encode()).decode() if text else None
            ),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type=kind, tags={"Name": name, POOL_LABEL: pool.name}
                )
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            opts=child,
        )
        subnets = list(args.subnet_ids[:1] if efa_count else args.subnet_ids)
        self.node_group = aws.eks.NodeGroup(
            name,
            cluster_name=args.cluster_name,
            node_group_name=name,
            node_role_arn=self.role.arn,
            subnet_ids=subnets,
            capacity_type=pool.capacity_type,
            instance_types=list(pool.instance_types),
            ami_type=pool.ami_type,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=pool.min_size, desired_size=pool.desired_size, max_size=pool.max_size
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=dict(pool.labels),
            taints=[aws.eks.NodeGroupTaintArgs(**t.as_eks()) for t in pool.taints],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=launch_template.id, version=launch_template.latest_version.apply(str)
            ),
            tags={POOL_LABEL: pool.name},
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=attachments,
                # An autoscaler owns the desired size once the group exists.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
        self.register_outputs({"nodeGroupName": self.node_group.node_group_name, "roleArn": self.role.arn})
