"""gpu-fleet: read the stack config once, build the platform, export what operators need."""

import pulumi

from components.platform import GpuPlatform
from components.spec_loader import SpecError, load_pulumi_config

try:
    spec = load_pulumi_config()
except SpecError as error:
    raise pulumi.RunError(error.render()) from None

platform = GpuPlatform("gpu-fleet", spec)
pulumi.export("clusterName", platform.cluster.name)
pulumi.export("nodePools", {name: pool.node_group.node_group_name for name, pool in platform.node_pools.items()})
