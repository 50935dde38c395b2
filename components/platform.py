"""GpuPlatform: the whole fleet, wired from one FleetSpec.

Cluster first (it yields the one Kubernetes provider), then the GPU node pools with the
playbook bundle they boot from, then the Kubernetes layer on that provider.
"""

from __future__ import annotations

import pulumi

from . import pool_decisions as decide
from .admission import TenantAdmission, TenantAdmissionArgs
from .cluster import Cluster
from .device_plugin import DevicePlugin, DevicePluginArgs
from .eks_access import EksAccess, EksAccessArgs
from .monitoring import GpuMonitoring, GpuMonitoringArgs
from .node_bootstrap import ClusterJoin, render_user_data
from .node_pool import GpuNodePool, NodePoolArgs
from .playbook_bundle import PlaybookBundle
from .scheduling import Scheduling
from .spec import FleetSpec, NodePoolSpec
from .system_namespace import SystemNamespace
from .tenant import Tenant, TenantArgs
from .tenant_roles import TenantRoles


class GpuPlatform(pulumi.ComponentResource):
    """Every resource of one environment."""

    def __init__(self, name: str, spec: FleetSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:platform:GpuPlatform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = spec.cluster.name
        self.cluster = Cluster(cluster_name, spec.cluster, opts=child)
        self.node_pools: dict[str, GpuNodePool] = {}
        if spec.cluster.mode == "eks":
            bundle = PlaybookBundle(f"{cluster_name}-playbooks", opts=child)
            for pool in spec.node_pools:
                self.node_pools[pool.name] = GpuNodePool(
                    f"{cluster_name}-{pool.name}",
                    NodePoolArgs(
                        spec=spec,
                        pool=pool,
                        cluster_name=self.cluster.name,
                        subnet_ids=self.cluster.subnet_ids,
                        user_data=self._user_data(spec, pool, bundle),
                        bundle_bucket_arn=bundle.bucket_arn,
                    ),
                    opts=child,
                )
        self._kubernetes_layer(spec)
        self.register_outputs({"clusterName": self.cluster.name})

    def _user_data(self, spec: FleetSpec, pool: NodePoolSpec, bundle: PlaybookBundle) -> pulumi.Output[str]:
        """The pool's boot user data. A custom (Ubuntu) AMI gets nothing merged by EKS, so it joins the
        cluster itself, with the endpoint and CA of the EKS cluster."""
        if not decide.custom_ami(pool):
            return bundle.bucket.apply(lambda bucket: render_user_data(spec, pool, bucket, bundle.key))
        eks = self.cluster.eks
        return pulumi.Output.all(bundle.bucket, self.cluster.name, eks.endpoint, eks.certificate_authority.data).apply(
            lambda args: render_user_data(spec, pool, args[0], bundle.key, ClusterJoin(*args[1:]))
        )

    def _kubernetes_layer(self, spec: FleetSpec) -> None:
        """Everything on the cluster's Kubernetes provider (children inherit it)."""
        on_k8s = pulumi.ResourceOptions(parent=self, provider=self.cluster.provider)
        after_pools = pulumi.ResourceOptions(
            parent=self, provider=self.cluster.provider, depends_on=list(self.node_pools.values())
        )
        self.system = SystemNamespace("gpu-system", spec, opts=on_k8s)
        self.scheduling = Scheduling("scheduling", opts=on_k8s)
        self.device_plugin = DevicePlugin(
            "device-plugin", DevicePluginArgs(spec=spec, namespace=self.system.namespace), opts=after_pools
        )
        self.monitoring = GpuMonitoring(
            "monitoring", GpuMonitoringArgs(spec=spec, namespace=self.system.namespace), opts=after_pools
        )
        self.tenant_roles = TenantRoles("tenant-roles", opts=on_k8s)
        tenant_opts = pulumi.ResourceOptions(
            parent=self, provider=self.cluster.provider, depends_on=[self.tenant_roles, self.scheduling]
        )
        self.tenants = {
            tenant.name: Tenant(f"tenant-{tenant.name}", TenantArgs(spec=spec, tenant=tenant), opts=tenant_opts)
            for tenant in spec.tenants
        }
        # After the tenants: the policy reads the namespaces' annotations and must not block their setup.
        self.admission = TenantAdmission(
            "tenant-admission",
            TenantAdmissionArgs(spec=spec),
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.cluster.provider, depends_on=list(self.tenants.values())
            ),
        )
        if spec.cluster.mode == "eks":
            EksAccess(
                f"{spec.cluster.name}-access",
                EksAccessArgs(spec=spec, cluster_name=self.cluster.name, depends_on=list(self.tenants.values())),
                opts=pulumi.ResourceOptions(parent=self),
            )
