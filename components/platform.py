"""GpuPlatform: the whole fleet, wired from one FleetPlan.

The one place that knows how the components fit together and that branches on the cluster mode:
on EKS the cluster, the GPU node pools with the playbook bundle they boot from, the Kubernetes
layer, then access entries for the tenants' IAM principals; on an existing cluster its
Kubernetes provider and the Kubernetes layer. Each component gets only its own part of the plan.
"""

from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_aws as aws

from core.boot import ClusterJoin, render_user_data
from core.names import KARPENTER, karpenter_name, node_pool_name, playbook_bucket_name
from core.plan import FleetPlan, PoolPlan

from .aws.access import EksAccess, EksAccessArgs
from .aws.bundle import PlaybookBundle, PlaybookBundleArgs
from .aws.cluster import EksCluster, EksClusterArgs
from .aws.karpenter import KarpenterAws, KarpenterAwsArgs
from .aws.karpenter_controller import KarpenterController, KarpenterControllerArgs
from .aws.karpenter_pool import KarpenterNodePool, KarpenterNodePoolArgs
from .aws.node_pool import GpuNodePool, NodePoolArgs
from .kubernetes.admission import TenantAdmission, TenantAdmissionArgs, pool_taint_table
from .kubernetes.cluster import ExistingCluster, ExistingClusterArgs
from .kubernetes.device_plugin import DevicePlugin, DevicePluginArgs
from .kubernetes.efa_plugin import EfaDevicePlugin, EfaDevicePluginArgs
from .kubernetes.kueue import Kueue, KueueArgs
from .kubernetes.meta import GpuDaemons
from .kubernetes.monitoring import GpuMonitoring, GpuMonitoringArgs
from .kubernetes.queues import FairShareQueues, FairShareQueuesArgs
from .kubernetes.scheduling import Scheduling, SchedulingArgs
from .kubernetes.system_namespace import SystemNamespace, SystemNamespaceArgs
from .kubernetes.tenant import Tenant, TenantArgs
from .kubernetes.tenant_roles import TenantRoles, TenantRolesArgs


def pool_subnets(plan: FleetPlan, pool: PoolPlan, subnet_ids: Sequence) -> tuple:
    """The private subnets a pool's nodes launch in: all of the cluster's, or those of a reserved pool's zone: the
    ones it names in an existing VPC, or its zone's in the VPC the fleet creates (one subnet per
    cluster.vpc.availabilityZones, in that order). The spec has checked both."""
    reservation = pool.reservation
    if reservation is None or (reservation.availability_zone is None and not reservation.subnet_ids):
        return tuple(subnet_ids)
    if reservation.subnet_ids:
        return tuple(reservation.subnet_ids)
    return (subnet_ids[plan.cluster.vpc.availability_zones.index(reservation.availability_zone)],)


class GpuPlatform(pulumi.ComponentResource):
    """Every resource of one environment."""

    def __init__(self, name: str, plan: FleetPlan, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:platform:GpuPlatform", name, None, opts)
        self.node_pools: dict[str, GpuNodePool | KarpenterNodePool] = {}
        if plan.cluster.mode == "eks":
            self._on_eks(plan)
        else:
            self._on_existing(plan)
        self.register_outputs({"clusterName": self.cluster.name})

    def _on_eks(self, plan: FleetPlan) -> None:
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = plan.cluster.name
        self.cluster = EksCluster(
            cluster_name,
            EksClusterArgs(cluster=plan.cluster, system_pool=plan.system_pool, gpu_tolerations=plan.gpu_tolerations),
            opts=child,
        )
        bundle = PlaybookBundle(playbook_bucket_name(cluster_name), PlaybookBundleArgs(), opts=child)
        if plan.karpenter_pools:
            self._karpenter(plan, bundle)
        for pool in plan.pools:
            if pool.provisioner == KARPENTER:
                continue
            self.node_pools[pool.name] = GpuNodePool(
                node_pool_name(cluster_name, pool.name),
                NodePoolArgs(
                    pool=pool,
                    cluster_name=self.cluster.name,
                    subnet_ids=pool_subnets(plan, pool, self.cluster.subnet_ids),
                    user_data=self._user_data(pool, bundle),
                    bundle_bucket_arn=bundle.bucket_arn,
                    security_group_ids=(self.cluster.security_group_id,),
                ),
                opts=child,
            )
        tenants = self._kubernetes_layer(plan, after=list(self.node_pools.values()))
        EksAccess(
            f"{cluster_name}-access",
            EksAccessArgs(principals=plan.eks_access, cluster_name=self.cluster.name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=tenants),
        )

    def _karpenter(self, plan: FleetPlan, bundle: PlaybookBundle) -> None:
        """Karpenter's AWS side, its controller on the system pool, and each Karpenter pool's objects."""
        cluster_name = plan.cluster.name
        karpenter_aws = KarpenterAws(
            karpenter_name(cluster_name),
            KarpenterAwsArgs(cluster_name=self.cluster.name, bundle_bucket_arn=bundle.bucket_arn),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # After the cluster's system pool and add-ons, and after the Pod Identity association: EKS injects the
        # controller's credentials into pods created once the association exists.
        controller = KarpenterController(
            "karpenter",
            KarpenterControllerArgs(
                cluster_name=self.cluster.name,
                cluster_endpoint=self.cluster.eks.endpoint,
                interruption_queue=karpenter_aws.queue.name,
                await_workloads=plan.cluster.await_workloads,
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self.cluster.provider, depends_on=[self.cluster, karpenter_aws]),
        )
        for pool in plan.karpenter_pools:
            self.node_pools[pool.name] = KarpenterNodePool(
                node_pool_name(cluster_name, pool.name),
                KarpenterNodePoolArgs(
                    pool=pool,
                    node_role=karpenter_aws.node_role.name,
                    subnet_ids=pool_subnets(plan, pool, self.cluster.subnet_ids),
                    security_group_ids=(self.cluster.security_group_id,),
                    kubernetes_version=plan.cluster.kubernetes_version,
                    user_data=self._user_data(pool, bundle),
                ),
                opts=pulumi.ResourceOptions(parent=self, providers=[self.cluster.provider], depends_on=[controller]),
            )

    def _on_existing(self, plan: FleetPlan) -> None:
        cluster = plan.cluster
        self.cluster = ExistingCluster(
            cluster.name,
            ExistingClusterArgs(name=cluster.name, kubeconfig=cluster.kubeconfig, context=cluster.context),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._kubernetes_layer(plan, after=[])

    def _user_data(self, pool: PoolPlan, bundle: PlaybookBundle) -> pulumi.Output[str]:
        """The pool's boot user data. A custom (Ubuntu) AMI gets nothing merged by EKS, so it joins the
        cluster itself, with the endpoint and CA of the EKS cluster."""
        if not pool.custom_ami:
            return bundle.bucket.apply(lambda bucket: render_user_data(pool, bucket, bundle.key))
        eks = self.cluster.eks
        return pulumi.Output.all(bundle.bucket, self.cluster.name, eks.endpoint, eks.certificate_authority.data).apply(
            lambda args: render_user_data(pool, args[0], bundle.key, ClusterJoin(*args[1:]))
        )

    def _kubernetes_layer(self, plan: FleetPlan, after: Sequence[pulumi.Resource]) -> list[Tenant]:
        """Everything on the cluster's Kubernetes provider; GPU workloads wait for `after` (the node pools).
        Returns the tenants, which anything keyed on their namespaces waits for."""
        provider = self.cluster.provider

        def on_k8s(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))

        self.system = SystemNamespace(
            "gpu-system",
            SystemNamespaceArgs(pools=plan.pools, network_policy_enforced=bool(plan.cluster.network_policy_enforced)),
            opts=on_k8s(),
        )
        self.scheduling = Scheduling("scheduling", SchedulingArgs(), opts=on_k8s())
        daemons = GpuDaemons(plan.gpu_tolerations, plan.cluster.await_workloads, self.system.namespace)
        self.device_plugin = DevicePlugin(
            "device-plugin",
            DevicePluginArgs(pools=plan.pools, plugin=plan.device_plugin, daemons=daemons),
            opts=on_k8s(*after),
        )
        if plan.efa_pools:
            # The AWS provider's region (aws:region): the plugin's image is in that region's EKS registry.
            self.efa_plugin = EfaDevicePlugin(
                "efa-device-plugin",
                EfaDevicePluginArgs(efa_pools=plan.efa_pools, region=aws.get_region_output().region, daemons=daemons),
                opts=on_k8s(*after),
            )
        self.monitoring = GpuMonitoring(
            "monitoring",
            GpuMonitoringArgs(monitoring=plan.monitoring, cluster_name=plan.cluster.name, daemons=daemons),
            opts=on_k8s(*after),
        )
        self.tenant_roles = TenantRoles("tenant-roles", TenantRolesArgs(), opts=on_k8s())
        self.tenants = {
            tenant.name: Tenant(
                f"tenant-{tenant.name}", TenantArgs(tenant=tenant), opts=on_k8s(self.tenant_roles, self.scheduling)
            )
            for tenant in plan.tenants
        }
        tenants = list(self.tenants.values())
        if plan.queues is not None:
            # After the node groups (`after`): the manager runs on the system pool, its pod must be scheduled.
            self.kueue = Kueue(
                "kueue",
                KueueArgs(system_pool=plan.system_pool is not None, await_workloads=plan.cluster.await_workloads),
                opts=on_k8s(*after),
            )
            self.queues = FairShareQueues(
                "queues", FairShareQueuesArgs(queues=plan.queues), opts=on_k8s(self.kueue, self.scheduling, *tenants)
            )
        # After the tenants: the policy reads the namespaces' annotations and must not block their setup.
        self.admission = TenantAdmission(
            "tenant-admission", TenantAdmissionArgs(pool_taints=pool_taint_table(plan.pools)), opts=on_k8s(*tenants)
        )
        return tenants
