"""What every node group of the fleet has, GPU or system: a node role with EKS's node policies, a
launch template that requires IMDSv2 and encrypts the gp3 root volume, and a managed node group
that rolls one node at a time and leaves its desired size to an autoscaler once created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from core.names import AL2023_ROOT_DEVICE, IMDS_HOP_LIMIT, NODE_ROLE_SUFFIX, POOL_LABEL, ROOT_VOLUME_TYPE
from core.plan import PoolPlan

from .iam import NODE_POLICIES, assume_role_policy


@dataclass(frozen=True)
class NodeRole:
    role: aws.iam.Role
    attachments: list
    """The policy attachments: the node group waits for them (nodes cannot join without them)."""


def node_role(name: str, opts: pulumi.ResourceOptions) -> NodeRole:
    role = aws.iam.Role(f"{name}{NODE_ROLE_SUFFIX}", assume_role_policy=assume_role_policy("ec2.amazonaws.com"), opts=opts)
    attachments = [
        aws.iam.RolePolicyAttachment(f"{name}-{arn.rsplit('/', 1)[1]}", role=role.name, policy_arn=arn, opts=opts)
        for arn in NODE_POLICIES
    ]
    return NodeRole(role, attachments)


def launch_template(
    name: str, pool_name: str, disk_gib: int, opts: pulumi.ResourceOptions, root_device: Any = AL2023_ROOT_DEVICE, **extra
) -> aws.ec2.LaunchTemplate:
    """IMDSv2 only, an encrypted gp3 root volume at the image's root device, instances and volumes tagged
    with the pool; `extra`: image, network interfaces, placement, user data."""
    return aws.ec2.LaunchTemplate(
        name,
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=IMDS_HOP_LIMIT
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=root_device,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=disk_gib, volume_type=ROOT_VOLUME_TYPE, encrypted="true", delete_on_termination="true"
                ),
            )
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags={"Name": name, POOL_LABEL: pool_name})
            for kind in ("instance", "volume")
        ],
        update_default_version=True,
        opts=opts,
        **extra,
    )


def node_group(
    name: str,
    *,
    pool_name: str,
    cluster_name: pulumi.Input[str],
    role: NodeRole,
    template: aws.ec2.LaunchTemplate,
    subnet_ids: list,
    sizes: tuple[int, int, int],
    parent: pulumi.Resource,
    ami_type: Optional[str],
    update_strategy: Optional[str] = None,
    **extra,
) -> aws.eks.NodeGroup:
    """A managed node group on the launch template; `sizes` (min, desired, max); `update_strategy`: EKS's default
    (launch new nodes first) unless given; `extra`: capacity type, instance types, labels, taints."""
    min_size, desired_size, max_size = sizes
    return aws.eks.NodeGroup(
        name,
        cluster_name=cluster_name,
        node_group_name=name,
        node_role_arn=role.role.arn,
        subnet_ids=subnet_ids,
        ami_type=ami_type,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=min_size, desired_size=desired_size, max_size=max_size),
        update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1, update_strategy=update_strategy),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str)),
        tags={POOL_LABEL: pool_name},
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=role.attachments,
            # An autoscaler owns the desired size once the group exists.
            ignore_changes=["scalingConfig.desiredSize"],
        ),
        **extra,
    )


def image_root_device(pool: PoolPlan, parent: pulumi.Resource) -> Any:
    """The root device of the image a pool boots: the AL2023 AMIs' /dev/xvda, or a custom AMI's own, read from the
    image (ec2:DescribeImages RootDeviceName: Canonical's Ubuntu AMIs use /dev/sda1, and a mapping for any other
    name adds an empty volume while the real root keeps the image's size and encryption)."""
    if pool.image_id is None:
        return AL2023_ROOT_DEVICE
    return aws.ec2.get_ami_output(
        filters=[aws.ec2.GetAmiFilterArgs(name="image-id", values=[pool.image_id])],
        opts=pulumi.InvokeOutputOptions(parent=parent),
    ).root_device_name
