"""KarpenterAws: what Karpenter needs in the AWS account, as its release's getting-started template creates it
(karpenter_release, vendored CloudFormation), for the fleet's EKS cluster:

- the controller's IAM role, assumed through EKS Pod Identity by the controller's service account, with the
  release's six controller policies;
- one node role for every Karpenter pool's nodes (the fleet's node policies and the playbook bundle, as a node
  group's) and its EKS access entry of type EC2_LINUX, which lets its instances join (a managed node group gets
  one from EKS; Karpenter's nodes do not);
- the interruption queue (SQS) and the EventBridge rules that send it spot interruption warnings, rebalance
  recommendations, instance state changes, AWS Health scheduled changes and capacity reservation interruptions:
  the controller drains a node before EC2 takes it away.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core.names import KARPENTER_NAMESPACE, KARPENTER_ROLE_SUFFIXES, KARPENTER_SERVICE_ACCOUNT, NODE_ROLE_SUFFIX

from . import karpenter_release as release
from .bundle import read_policy
from .iam import POD_IDENTITY_ACTIONS, POD_IDENTITY_SERVICE, assume_role_policy
from .node_basics import node_role

# The queue's properties in the template, as the provider's arguments (a new one in a release fails here).
QUEUE_ARGUMENTS = {"MessageRetentionPeriod": "message_retention_seconds", "SqsManagedSseEnabled": "sqs_managed_sse_enabled"}
# EKS access entry type of Linux nodes: EKS maps the role to the system:nodes group (EKS API reference,
# CreateAccessEntry type EC2_LINUX).
NODE_ACCESS_ENTRY_TYPE = "EC2_LINUX"


@dataclass(frozen=True)
class KarpenterAwsArgs:
    cluster_name: pulumi.Input[str]
    """The EKS cluster (its name, as an Output: everything waits for the cluster)."""
    bundle_bucket_arn: pulumi.Input[str]
    """The playbook bundle's bucket, which the nodes read at boot."""


class KarpenterAws(pulumi.ComponentResource):
    """Karpenter's IAM roles, Pod Identity association, node access entry and interruption queue."""

    node_role: aws.iam.Role
    queue: aws.sqs.Queue

    def __init__(self, name: str, args: KarpenterAwsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:karpenter:KarpenterAws", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        controller_suffix, nodes_suffix = KARPENTER_ROLE_SUFFIXES
        nodes = node_role(f"{name}{nodes_suffix.removesuffix(NODE_ROLE_SUFFIX)}", child)
        self.node_role = nodes.role
        aws.iam.RolePolicy(
            f"{name}-nodes-bundle-read",
            role=self.node_role.id,
            policy=pulumi.Output.from_input(args.bundle_bucket_arn).apply(read_policy),
            opts=child,
        )
        self.access_entry = aws.eks.AccessEntry(
            f"{name}-nodes",
            cluster_name=args.cluster_name,
            principal_arn=self.node_role.arn,
            type=NODE_ACCESS_ENTRY_TYPE,
            opts=pulumi.ResourceOptions(parent=self, depends_on=nodes.attachments),
        )
        self.queue = aws.sqs.Queue(
            f"{name}-interruption",
            name=args.cluster_name,
            **{QUEUE_ARGUMENTS[key]: value for key, value in release.queue_properties().items()},
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-interruption",
            queue_url=self.queue.url,
            policy=self.queue.arn.apply(lambda arn: json.dumps(release.queue_policy(arn))),
            opts=child,
        )
        for rule_name, pattern in release.interruption_rules().items():
            rule = aws.cloudwatch.EventRule(f"{name}-{rule_name}", event_pattern=json.dumps(pattern), opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{rule_name}", rule=rule.name, arn=self.queue.arn, opts=child)
        controller = aws.iam.Role(
            f"{name}{controller_suffix}",
            assume_role_policy=assume_role_policy(POD_IDENTITY_SERVICE, POD_IDENTITY_ACTIONS),
            opts=child,
        )
        values = pulumi.Output.all(
            aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition,
            aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region,
            aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id,
            args.cluster_name,
            self.node_role.arn,
            self.queue.arn,
        ).apply(lambda v: release.Substitutions(*v))
        attachments = []
        for policy_name in release.controller_policy_names():
            policy = aws.iam.Policy(
                f"{name}-{policy_name}",
                policy=values.apply(lambda v, p=policy_name: json.dumps(release.controller_policies(v)[p])),
                opts=child,
            )
            attachments.append(
                aws.iam.RolePolicyAttachment(f"{name}-{policy_name}", role=controller.name, policy_arn=policy.arn, opts=child)
            )
        self.pod_identity = aws.eks.PodIdentityAssociation(
            f"{name}-controller",
            cluster_name=args.cluster_name,
            namespace=KARPENTER_NAMESPACE,
            service_account=KARPENTER_SERVICE_ACCOUNT,
            role_arn=controller.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )
        self.register_outputs({"nodeRoleArn": self.node_role.arn, "interruptionQueue": self.queue.name})

