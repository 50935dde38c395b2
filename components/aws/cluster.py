"""EksCluster: the EKS cluster the program creates (cluster.mode eks).

It hands the platform exactly one Kubernetes provider and what node pools need to join: the
cluster name, the private subnets and the cluster security group. It also runs the system pool, and
creates the EKS add-ons after it (CoreDNS needs untainted nodes). An existing cluster is
components.kubernetes.cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from core.names import VPC_CNI_ADDON, VPC_CNI_NETWORK_POLICY, node_pool_name
from core.plan import SystemPoolPlan
from core.spec import ClusterSpec, ExistingVpc

from ..kubernetes.cluster import CLUSTER_TYPE, provider_name
from .iam import CLUSTER_POLICIES, assume_role_policy
from .network import Network, NetworkArgs
from .system_pool import SystemNodePool, SystemPoolArgs

NODE_MONITORING_AGENT = "eks-node-monitoring-agent"
EKS_ADDONS = [VPC_CNI_ADDON, "coredns", "kube-proxy", "eks-pod-identity-agent", NODE_MONITORING_AGENT]
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator"]


def addon_configuration(addon: str, gpu_tolerations: tuple[dict, ...]) -> Optional[dict]:
    """The configuration values an add-on needs in a GPU fleet, or None for its defaults."""
    if addon == VPC_CNI_ADDON:
        # The VPC CNI enforces NetworkPolicies (the tenants' isolation) only when asked to (EKS user guide,
        # "Restrict pod traffic with Kubernetes policies": enableNetworkPolicy).
        return {VPC_CNI_NETWORK_POLICY: "true"}
    if addon == NODE_MONITORING_AGENT:
        # Its DCGM DaemonSet reads the GPUs' health for node auto repair, and tolerates nothing by default
        # (aws/eks-node-monitoring-agent charts/eks-node-monitoring-agent/values.yaml, dcgmAgent.tolerations:
        # []): every GPU node carries the fleet's taints. Its node agent tolerates every taint already.
        return {"dcgmAgent": {"tolerations": list(gpu_tolerations)}}
    return None


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


@dataclass(frozen=True)
class EksClusterArgs:
    cluster: ClusterSpec
    """Name, Kubernetes version and network (a new VPC or existing subnets)."""
    system_pool: Optional[SystemPoolPlan] = None
    """The node group for cluster services, created before the add-ons; None: none is created."""
    gpu_tolerations: tuple[dict, ...] = ()
    """Tolerations of every GPU pool's taints, for the add-ons that run on GPU nodes."""


class EksCluster(pulumi.ComponentResource):
    """The EKS cluster the fleet runs on, its network, OIDC provider and core add-ons."""

    provider: k8s.Provider
    eks: aws.eks.Cluster
    subnet_ids: list
    name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    """The cluster security group EKS creates: all traffic between its members, in and out."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(CLUSTER_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec = args.cluster
        if isinstance(spec.vpc, ExistingVpc):
            self.subnet_ids = list(spec.vpc.subnet_ids)
        else:
            network = Network(f"{name}-net", NetworkArgs(vpc=spec.vpc, cluster_name=spec.name), opts=child)
            self.subnet_ids = network.private_subnet_ids
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
        after = []
        if args.system_pool is not None:
            system = SystemNodePool(
                node_pool_name(spec.name, args.system_pool.name),
                SystemPoolArgs(pool=args.system_pool, cluster_name=self.eks.name, subnet_ids=tuple(self.subnet_ids)),
                opts=child,
            )
            after.append(system.node_group)
        for addon in EKS_ADDONS:
            aws.eks.Addon(
                f"{name}-{addon}",
                cluster_name=self.eks.name,
                addon_name=addon,
                configuration_values=json.dumps(config) if (config := addon_configuration(addon, args.gpu_tolerations)) else None,
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )
        self.name = self.eks.name
        self.security_group_id = self.eks.vpc_config.cluster_security_group_id
        kubeconfig = pulumi.Output.all(self.eks.name, self.eks.endpoint, self.eks.certificate_authority.data).apply(
            lambda args: eks_kubeconfig(*args)
        )
        self.provider = k8s.Provider(provider_name(name), kubeconfig=kubeconfig, opts=child)
        self.register_outputs({"name": self.name})
