"""Cluster: an EKS cluster the program creates, or an existing cluster reached by kubeconfig.

Either way it hands the platform exactly one Kubernetes provider, and (for EKS) what node
pools need to join: the cluster name and the private subnets.
"""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .iam import CLUSTER_POLICIES, assume_role_policy
from .network import Network
from .spec import ClusterSpec, ExistingVpc

EKS_ADDONS = ["vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"]
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator"]


def eks_kubeconfig(name: str, endpoint: str, ca_data: str) -> str:
    """A kubeconfig that authenticates through `aws eks get-token` (no long-lived secret)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", name, "--output", "json"],
                        }
                    },
                }
            ],
        }
    )


class Cluster(pulumi.ComponentResource):
    """The Kubernetes cluster the fleet runs on."""

    provider: k8s.Provider
    eks: Optional[aws.eks.Cluster]
    subnet_ids: list
    name: pulumi.Output[str]

    def __init__(self, name: str, spec: ClusterSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:cluster:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.eks = None
        self.subnet_ids = []
        if spec.mode == "existing":
            self.name = pulumi.Output.from_input(spec.name)
            self.provider = k8s.Provider(
                f"{name}-k8s", kubeconfig=spec.kubeconfig, context=spec.context, opts=child
            )
        else:
            self._create_eks(name, spec, child)
        self.register_outputs({"name": self.name})

    def _create_eks(self, name: str, spec: ClusterSpec, child: pulumi.ResourceOptions) -> None:
        if isinstance(spec.vpc, ExistingVpc):
            self.subnet_ids = list(spec.vpc.subnet_ids)
        else:
            self.subnet_ids = Network(f"{name}-net", spec.vpc, spec.name, opts=child).private_subnet_ids
        role = aws.iam.Role(f"{name}-cluster", assume_role_policy=assume_role_policy("eks.amazonaws.com"), opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-cluster-{arn.rsplit('/', 1)[1]}", role=role.name, policy_arn=arn, opts=child)
            for arn in CLUSTER_POLICIES
        ]
        self.eks = aws.eks.Cluster(
            name,
            name=spec.name,
            version=spec.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=self.subnet_ids, endpoint_private_access=True, endpoint_public_access=True
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
            ),
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )
        aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.eks.identities[0].oidcs[0].issuer,
            client_id_lists=["sts.amazonaws.com"],
            opts=child,
        )
        for addon in EKS_ADDONS:
            aws.eks.Addon(f"{name}-{addon}", cluster_name=self.eks.name, addon_name=addon, opts=child)
        self.name = self.eks.name
        kubeconfig = pulumi.Output.all(self.eks.name, self.eks.endpoint, self.eks.certificate_authority.data).apply(
            lambda args: eks_kubeconfig(*args)
        )
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=kubeconfig, opts=child)
