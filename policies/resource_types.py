"""Resource type tokens the policies judge, and what only the policies need to know of them.

The names the fleet stamps (labels, annotations, taints) are core.names: the program and the pack
share one convention.
"""

# AWS
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
ACCESS_POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
EKS_ADDON = "aws:eks/addon:Addon"

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
# Kueue (core.names.KUEUE_API_VERSION)
CLUSTER_QUEUE = "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"
COHORT = "kubernetes:kueue.x-k8s.io/v1beta2:Cohort"
CRON_JOB = "kubernetes:batch/v1:CronJob"
# Karpenter (core.karpenter NODEPOOL_API_VERSION, NODECLASS_API_VERSION)
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
EC2_NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"

# Workloads whose pod template sits at spec.template (CronJob: spec.jobTemplate.spec.template).
WORKLOADS = (DAEMON_SET, DEPLOYMENT, STATEFUL_SET, JOB, CRON_JOB, POD)

POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")  # weakest first
CLUSTER_ADMIN_ROLE = "cluster-admin"
EKS_CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"

DEFAULT_ALLOWED_REGISTRIES = ("nvcr.io", "registry.k8s.io", "public.ecr.aws")
