"""GpuPlatform: the whole fleet, wired from one FleetSpec.

Cluster first (it yields the one Kubernetes provider), then the GPU node pools with the
playbook bundle they boot from, then the Kubernetes layer on that provider.
"""

from __future__ import annotations

import pulumi

from .cluster import Cluster
from .device_plugin import DevicePlugin, DevicePluginArgs
from .eks_access import EksAccess, EksAccessArgs
from .monitoring import GpuMonitoring, GpuMonitoringArgs
from .node_bootstrap import render_user_data
from .node_pool import GpuNodePool, NodePoolArgs
from .playbook_bundle import PlaybookBundle
from .scheduling import Scheduling
from .spec import FleetSpec
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
                user_data = bundle.bucket.apply(
                    lambda bucket, pool=pool: render_user_data(spec, pool, bucket, bundle.key)
                )
                self.node_pools[pool.name] = GpuNodePool(
                    f"{cluster_name}-{pool.name}",
                    NodePoolArgs(
                        spec=spec,
                        pool=pool,
                        cluster_name=self.cluster.name,
                        subnet_ids=self.cluster.subnet_ids,
                        user_data=user_data,
                        bundle_bucket_arn=bundle.bucket_arn,
                    ),
                    opts=child,
                )
        self._kubernetes_layer(spec)
        self.register_outputs({"clusterName": self.cluster.name})

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
        if spec.cluster.mode == "eks":
            EksAccess(
                f"{spec.cluster.name}-access",
                EksAccessArgs(spec=spec, cluster_name=self.cluster.name, depends_on=list(self.tenants.values())),
                opts=pulumi.ResourceOptions(parent=self),
            )
