"""The pool inventory: every node pool as data, in the shape the cluster publishes it.

The Kubernetes layer writes it to the gpu-system/gpufleet-node-pools ConfigMap, so policies
(and people) can correlate tenants with pools even where the pools are not AWS resources of
this stack; `gpufleet plan` reports the same list.
"""

from __future__ import annotations

from typing import Any

from . import pool_decisions as decide
from .spec import FleetSpec


def pool_inventory(spec: FleetSpec) -> list[dict[str, Any]]:
    pools = []
    for pool in spec.node_pools:
        itype = decide.representative_type(pool)
        sharing = pool.sharing.model_dump(by_alias=True, exclude_none=True)
        pools.append(
            {
                "name": pool.name,
                "instanceTypes": list(pool.instance_types),
                "capacity": pool.capacity,
                "capacityType": decide.capacity_type(pool),
                "workload": pool.workload,
                "minSize": pool.min_size,
                "desiredSize": pool.desired,
                "maxSize": pool.max_size,
                "gpu": itype.gpu.model,
                "gpusPerNode": decide.gpus_per_node(pool),
                "driverVersion": decide.pool_driver(spec, pool),
                "sharing": sharing,
                "efa": pool.efa,
                "labels": decide.pool_labels(spec, pool),
                "taints": [t.as_kubernetes() for t in decide.pool_taints(spec, pool)],
                "managedBy": "gpu-fleet" if spec.cluster.mode == "eks" else "existing",
            }
        )
    return pools
