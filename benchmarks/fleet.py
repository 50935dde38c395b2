"""A large, valid fleet generated from code: `scale` x (32 pools, 150 tenants).

Pools cycle through realistic shapes (on-demand inference, spot training with EFA, MIG,
time-slicing, mixed-size spot batch); each tenant may use one to three pools of one kind, so
the tenancy rules (no critical tenant on spot) hold and the plan has many pool groups.
"""

from __future__ import annotations

from core.spec import FleetSpec
from core.spec_loader import parse_spec

POOLS_PER_SCALE = 32
TENANTS_PER_SCALE = 150

# (name stem, pool config) - every shape is valid on its own.
POOL_SHAPES = [
    ("inf-l4", {"instanceTypes": ["g6.xlarge", "g6.2xlarge"], "capacity": "on-demand", "workload": "inference",
                "minSize": 1, "desiredSize": 2, "maxSize": 8, "sharing": {"mode": "time-slicing", "replicas": 4}}),
    ("inf-h100", {"instanceTypes": ["p5.48xlarge"], "capacity": "on-demand", "workload": "inference",
                  "minSize": 1, "maxSize": 2, "diskGiB": 1000,
                  "sharing": {"mode": "mig", "migStrategy": "single", "migProfile": "3g.40gb"}}),
    ("train-h100", {"instanceTypes": ["p5.48xlarge"], "capacity": "spot", "workload": "training",
                    "minSize": 0, "desiredSize": 1, "maxSize": 4, "efa": True, "diskGiB": 2000}),
    ("train-a100", {"instanceTypes": ["p4d.24xlarge", "p4de.24xlarge"], "capacity": "spot", "workload": "training",
                    "minSize": 0, "maxSize": 4, "efa": True, "diskGiB": 1000}),
    ("batch-a10g", {"instanceTypes": ["g5.12xlarge", "g5.24xlarge"], "capacity": "spot", "workload": "batch",
                    "minSize": 0, "maxSize": 6}),
    ("batch-l40s", {"instanceTypes": ["g6e.12xlarge"], "capacity": "spot", "workload": "batch",
                    "minSize": 0, "maxSize": 4}),
    ("dev-t4", {"instanceTypes": ["g4dn.xlarge", "g4dn.2xlarge"], "capacity": "spot", "workload": "dev",
                "minSize": 0, "desiredSize": 1, "maxSize": 4, "sharing": {"mode": "time-slicing", "replicas": 2}}),
    ("inf-l4-od", {"instanceTypes": ["g6.12xlarge"], "capacity": "on-demand", "workload": "inference",
                   "minSize": 0, "maxSize": 3}),
]


def fleet_config(scale: int = 1) -> dict:
    """The stripped `gpu-fleet:*` config of a fleet with scale x 32 pools and scale x 150 tenants."""
    pools = []
    for i in range(POOLS_PER_SCALE * scale):
        stem, shape = POOL_SHAPES[i % len(POOL_SHAPES)]
        pools.append({"name": f"{stem}-{i:03d}", **shape})
    tenants = []
    for j in range(TENANTS_PER_SCALE * scale):
        first = j % len(pools)
        stem = pools[first]["name"].rsplit("-", 1)[0]
        # pools of the same shape, so a tenant never mixes on-demand and spot
        same = [p["name"] for p in pools if p["name"].rsplit("-", 1)[0] == stem]
        start = same.index(pools[first]["name"])
        mine = [same[(start + k) % len(same)] for k in range(1 + j % 3)]
        on_demand = pools[first]["capacity"] == "on-demand"
        tenants.append(
            {
                "name": f"tenant-{j:04d}",
                "gpuQuota": 2 + j % 7,
                "cpuQuota": 32,
                "memoryQuota": "128Gi",
                "pools": sorted(set(mine), key=mine.index),
                "cudaVersions": ["12.4"],
                "priority": "critical" if on_demand and j % 5 == 0 else "batch",
                "access": {
                    "editors": [f"arn:aws:iam::111122223333:role/tenant-{j:04d}-dev"],
                    "viewers": [f"group:tenant-{j:04d}-viewers"],
                },
            }
        )
    return {
        "cluster": {
            "mode": "eks",
            "name": f"bench-x{scale}",
            "kubernetesVersion": "1.33",
            "vpc": {"cidr": "10.40.0.0/16", "availabilityZones": ["us-east-1a", "us-east-1b", "us-east-1c"]},
        },
        "drivers": {"install": "ansible", "version": "570.133.20", "containerToolkit": "1.19.1"},
        "nodePools": pools,
        "tenants": tenants,
        "monitoring": {"dcgmExporter": True, "serviceMonitor": True},
    }


def fleet_spec(scale: int = 1) -> FleetSpec:
    return parse_spec(fleet_config(scale), f"benchmarks.fleet x{scale}")
