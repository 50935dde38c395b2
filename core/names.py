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

# Labels of the objects the Kubernetes layer creates, and the app names its DaemonSets select on.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "gpu-fleet"
APP_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
DEVICE_PLUGIN_APP = "nvidia-device-plugin"
GPU_FEATURE_DISCOVERY_APP = "gpu-feature-discovery"
EFA_DEVICE_PLUGIN_APP = "aws-efa-k8s-device-plugin"
# What the EFA device plugin advertises, one unit per EFA device (EKS user guide, "Use EFA with EKS").
EFA_RESOURCE = "vpc.amazonaws.com/efa"
DCGM_EXPORTER_APP = "dcgm-exporter"

# Pod Security admission (kubernetes.io), applied to the system and tenant namespaces.
PSA_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
PSA_AUDIT_LABEL = "pod-security.kubernetes.io/audit"
PSA_WARN_LABEL = "pod-security.kubernetes.io/warn"

# Priority classes by tenant priority; tenants' namespaces carry the class name as an annotation
# (Kubernetes has no per-namespace default, so admission or the team applies it).
PRIORITY_CLASSES = {"critical": "gpufleet-critical", "standard": "gpufleet-standard", "batch": "gpufleet-batch"}
# On gpu-system of an existing cluster: the stack declares that the cluster's CNI enforces NetworkPolicies.
NETWORK_POLICY_ENFORCED_ANNOTATION = f"{PREFIX}/network-policy-enforced"
# The EKS add-on whose configuration turns NetworkPolicy enforcement on (enableNetworkPolicy).
VPC_CNI_ADDON = "vpc-cni"
VPC_CNI_NETWORK_POLICY = "enableNetworkPolicy"
PRIORITY_ORDER = ("batch", "standard", "critical")  # lowest first: a tenant may use its own and those below
# Kubernetes' own classes, usable in any namespace since 1.17: no tenant may take them.
SYSTEM_PRIORITY_CLASSES = ("system-cluster-critical", "system-node-critical")
# The ResourceQuota that admits no pod of a priority class above the tenant's.
PRIORITY_QUOTA = "gpufleet-priority-classes"
PRIORITY_CLASS_ANNOTATION = f"{PREFIX}/priority-class"

# The ResourceQuota each tenant namespace gets.
TENANT_QUOTA = "gpufleet-quota"

# Where a tenant finds how to reach its pools: nodeSelector and tolerations per pool.
PLACEMENT_CONFIGMAP = "gpufleet-placement"
PLACEMENT_KEY = "placement.json"

# Cluster roles the fleet binds tenant principals to (via RoleBindings in the tenant namespace).
TENANT_ADMIN_ROLE = "gpufleet-tenant-admin"
TENANT_EDIT_ROLE = "gpufleet-tenant-edit"
TENANT_VIEW_ROLE = "view"  # the built-in, read-only (no Secrets)

# The device plugin's per-pool configs and the one an unlabeled GPU node falls back to.
DEVICE_PLUGIN_CONFIGMAP = "nvidia-device-plugin-configs"
DEVICE_PLUGIN_DEFAULT_CONFIG = "gpufleet-default"

# Grafana's sidecar picks up dashboards from ConfigMaps with this label.
GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"

# Names a stack config may not use itself: the fleet stamps them, schedulers and policies trust them.
RESERVED_LABEL_DOMAIN = PREFIX  # gpufleet.io/* and *.gpufleet.io/*
RESERVED_LABELS = frozenset({GPU_PRESENT_LABEL, DEVICE_PLUGIN_CONFIG_LABEL, MIG_CONFIG_LABEL})
RESERVED_TAINTS = frozenset({GPU_TAINT_KEY})
# Namespaces a tenant may not be: Kubernetes' own and the fleet's.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", SYSTEM_NAMESPACE})

# AWS resource names derived from the cluster and pool names (part of their URNs). Pulumi auto-names
# AWS resources by appending '-' and 7 random characters, which counts against AWS's length limits.
AUTONAME_SUFFIX_LENGTH = 8
PLAYBOOK_BUCKET_SUFFIX = "-playbooks"
NODE_ROLE_SUFFIX = "-node"
# The non-GPU pool for cluster services (CoreDNS, the fleet's controllers): its gpufleet.io/pool label
# value and node group name suffix, so no GPU pool may take the name.
SYSTEM_POOL = "system"
S3_BUCKET_NAME_MAX = 63
IAM_ROLE_NAME_MAX = 64


def node_pool_name(cluster: str, pool: str) -> str:
    """The name of a pool's node group, launch template and node role."""
    return f"{cluster}-{pool}"


def karpenter_name(cluster: str) -> str:
    """The prefix of Karpenter's AWS resources: its roles are <prefix>-controller and <prefix>-nodes-node."""
    return f"{cluster}-karpenter"


KARPENTER_ROLE_SUFFIXES = ("-controller", f"-nodes{NODE_ROLE_SUFFIX}")
SQS_QUEUE_NAME_MAX = 80  # the interruption queue is named as the cluster


def playbook_bucket_name(cluster: str) -> str:
    return f"{cluster}{PLAYBOOK_BUCKET_SUFFIX}"


# Extended resources the device plugin advertises; quotas on them take the requests.* form only.
GPU_RESOURCE = "nvidia.com/gpu"
MIG_RESOURCE_PREFIX = "nvidia.com/mig-"  # MIG strategy mixed: nvidia.com/mig-<profile>
GPU_QUOTA_RESOURCE = f"requests.{GPU_RESOURCE}"

# Ansible vars of a pool (core.plan PoolPlan.ansible_vars; playbooks/README.md) that the policy pack reads
# back from launch template user data.
INSTALL_VAR = "gpufleet_install"
DRIVER_VERSION_VAR = "nvidia_driver_version"
OPEN_MODULES_VAR = "nvidia_driver_open_kernel_modules"
TOOLKIT_VERSION_VAR = "nvidia_container_toolkit_version"
GPU_MODEL_VAR = "gpu_verify_expected_gpu_model"

# How allocated GPUs reach a container (NVIDIA/k8s-device-plugin deviceListStrategy; the toolkit's
# accept-nvidia-visible-devices-as-volume-mounts): /dev/null mounted at CONTAINER_DEVICES_DIR/<id>.
# The environment variable is what unprivileged containers may no longer use to pick GPUs.
DEVICE_LIST_STRATEGY = "volume-mounts"
CONTAINER_DEVICES_DIR = "/var/run/nvidia-container-devices"
VISIBLE_DEVICES_ENV = "NVIDIA_VISIBLE_DEVICES"

# Capacity: the spec's words (also the gpufleet.io/capacity label's values and Karpenter's karpenter.sh/capacity-type
# values, sigs.k8s.io/karpenter pkg/apis/v1/labels.go CapacityTypeOnDemand/Spot/Reserved); spot is also the spot
# taint's value.
ON_DEMAND = "on-demand"
SPOT = "spot"
RESERVED = "reserved"
CAPACITIES = (ON_DEMAND, SPOT, RESERVED)
# A reserved pool's reservations: On-Demand Capacity Reservations, or an EC2 Capacity Block for ML.
ODCR = "odcr"
CAPACITY_BLOCK = "capacity-block"
RESERVATION_TYPES = (ODCR, CAPACITY_BLOCK)
# A node group's capacityType (EKS CreateNodegroup): an ODCR pool's is ON_DEMAND (its launch template targets the
# reservation), a Capacity Block's CAPACITY_BLOCK.
ON_DEMAND_CAPACITY_TYPE = "ON_DEMAND"
SPOT_CAPACITY_TYPE = "SPOT"
CAPACITY_BLOCK_CAPACITY_TYPE = "CAPACITY_BLOCK"
# A Capacity Block's launch market (EC2 InstanceMarketOptions MarketType; Karpenter's launches use it too).
CAPACITY_BLOCK_MARKET_TYPE = "capacity-block"
# A node group update that terminates a node before it launches the replacement (EKS NodegroupUpdateConfig
# updateStrategy: "useful in scenarios where you are constrained to resources"): a reserved pool has no spare
# instance for the default's new-nodes-first.
MINIMAL_UPDATE_STRATEGY = "MINIMAL"

# Who creates a pool's nodes (the pool inventory's managedBy): this stack, or something before it.
MANAGED_EXTERNALLY = "existing"

# Karpenter's duration that turns a timer off (NodePool expireAfter, consolidateAfter; karpenter.sh_nodepools.yaml).
NEVER = "Never"

# What launches the nodes of a pool this stack creates (the spec's nodePools[].provisioner).
KARPENTER = "karpenter"
NODEGROUP = "nodegroup"
PROVISIONERS = (KARPENTER, NODEGROUP)
# Where the Karpenter controller runs and as whom: its EKS Pod Identity association names both.
KARPENTER_NAMESPACE = "karpenter"
KARPENTER_SERVICE_ACCOUNT = "karpenter"

# What every node of the fleet launches with, from a launch template or a Karpenter node class: IMDSv2 with hop
# limit 2 (pods behind the node's network namespace reach IMDSv2; 1 would block them), a gp3 root volume, at
# /dev/xvda on the EKS AL2023 AMIs (Amazon Linux AMIs; karpenter-provider-aws pkg/providers/amifamily/al2023.go
# EphemeralBlockDevice) and at the image's own root device on a custom AMI.
IMDS_HOP_LIMIT = 2
ROOT_VOLUME_TYPE = "gp3"
AL2023_ROOT_DEVICE = "/dev/xvda"

# Kueue (sigs.k8s.io/kueue): its namespace, the API version of its objects, and the labels a Job carries
# (pkg/controller/constants/constants.go QueueLabel, WorkloadPriorityClassLabel).
KUEUE_NAMESPACE = "kueue-system"
KUEUE_API_VERSION = "kueue.x-k8s.io/v1beta2"
QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name"
WORKLOAD_PRIORITY_CLASS_LABEL = "kueue.x-k8s.io/priority-class"
