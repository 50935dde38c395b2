"""Names of the labels, annotations, taints and objects gpu-fleet stamps.

They are an interface: schedulers, people and the policy pack read them, from this program or
from any other that follows the same convention.
"""

PREFIX = "gpufleet.io"

# Node (pool) labels.
POOL_LABEL = f"{PREFIX}/pool"
WORKLOAD_LABEL = f"{PREFIX}/workload"
CAPACITY_LABEL = f"{PREFIX}/capacity"
GPU_LABEL = f"{PREFIX}/gpu"
DRIVER_LABEL = f"{PREFIX}/driver-version"
SHARING_LABEL = f"{PREFIX}/sharing"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"  # the NVIDIA MIG manager's convention: all-<profile>

# Taints.
GPU_TAINT_KEY = "nvidia.com/gpu"
SPOT_TAINT_KEY = CAPACITY_LABEL
TENANT_TAINT_KEY = f"{PREFIX}/tenant"

# Tenant namespaces: label and annotations (lists are comma-separated).
TENANT_LABEL = f"{PREFIX}/tenant"
POOLS_ANNOTATION = f"{PREFIX}/pools"
CUDA_ANNOTATION = f"{PREFIX}/cuda-versions"
PRIORITY_ANNOTATION = f"{PREFIX}/priority"
ISOLATION_ANNOTATION = f"{PREFIX}/isolation"

# The fleet's own namespace and the pool inventory it publishes (data key POOL_INVENTORY_KEY,
# a JSON list as components.pool_inventory.pool_inventory returns it).
SYSTEM_NAMESPACE = "gpu-system"
POOL_INVENTORY_CONFIGMAP = "gpufleet-node-pools"
POOL_INVENTORY_KEY = "pools.json"
