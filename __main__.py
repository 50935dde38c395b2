"""gpu-fleet: read the stack config once, plan the fleet, build the platform, export what operators need."""

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from components.platform import GpuPlatform
from core.plan import plan_fleet
from core.spec_loader import SpecError, parse_program_config

try:
    spec = parse_program_config({**get_config_env(), **CONFIG.get()})
except SpecError as error:
    raise pulumi.RunError(error.render()) from None

platform = GpuPlatform("gpu-fleet", plan_fleet(spec))
pulumi.export("clusterName", platform.cluster.name)
pulumi.export("nodePools", {name: pool.node_group.node_group_name for name, pool in platform.node_pools.items()})
