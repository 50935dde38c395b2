"""GpuPlatform: the whole fleet, wired from one FleetSpec.

Cluster first (it yields the one Kubernetes provider), then the GPU node pools with the
playbook bundle they boot from, then the Kubernetes layer on that provider.
"""

from __future__ import annotations

import pulumi

from .cluster import Cluster
from .node_bootstrap import render_user_data
from .node_pool import GpuNodePool, NodePoolArgs
from .playbook_bundle import PlaybookBundle
from .spec import FleetSpec


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
        self.register_outputs({"clusterName": self.cluster.name})
