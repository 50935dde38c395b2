"""Resource type tokens the policies judge, and the label/annotation names they read.

The label names come from components.fleet_labels: the program and the pack share one convention.
"""

from components.fleet_labels import (  # noqa: F401  (re-exported for the policy modules)
    CAPACITY_LABEL,
    CUDA_ANNOTATION,
    DEVICE_PLUGIN_CONFIG_LABEL,
    DRIVER_LABEL,
    GPU_LABEL,
    GPU_PRESENT_LABEL,
    GPU_TAINT_KEY,
    ISOLATION_ANNOTATION,
    MIG_CONFIG_LABEL,
    POOL_INVENTORY_CONFIGMAP,
    POOL_INVENTORY_KEY,
    POOL_LABEL,
    POOLS_ANNOTATION,
    PRIORITY_ANNOTATION,
    SHARING_LABEL,
    SPOT_TAINT_KEY,
    SYSTEM_NAMESPACE,
    TENANT_LABEL,
    WORKLOAD_LABEL,
)

# AWS
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
ACCESS_POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"

# Kubernetes
NAMESPACE = "kubernetes:core/v1:Namespace"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
POD = "kubernetes:core/v1:Pod"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"

# Workloads whose pod template sits at spec.template (CronJob: spec.jobTemplate.spec.template).
WORKLOADS = (DAEMON_SET, DEPLOYMENT, STATEFUL_SET, JOB, CRON_JOB, POD)

# Kubernetes and EKS spell taint effects differently.
EKS_TO_K8S_EFFECT = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}

GPU_QUOTA_KEY = "requests.nvidia.com/gpu"
POD_SECURITY_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")  # weakest first
CLUSTER_ADMIN_ROLE = "cluster-admin"
EKS_CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"

DEFAULT_ALLOWED_REGISTRIES = ("nvcr.io", "registry.k8s.io", "public.ecr.aws")
