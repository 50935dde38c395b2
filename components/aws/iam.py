"""IAM documents and managed policies the cluster and nodes need (static: no AWS calls)."""

from __future__ import annotations

import json

MANAGED = "arn:aws:iam::aws:policy"
CLUSTER_POLICIES = [f"{MANAGED}/AmazonEKSClusterPolicy"]
NODE_POLICIES = [
    f"{MANAGED}/AmazonEKSWorkerNodePolicy",
    f"{MANAGED}/AmazonEKS_CNI_Policy",
    f"{MANAGED}/AmazonEC2ContainerRegistryReadOnly",
    f"{MANAGED}/AmazonSSMManagedInstanceCore",
]


# EKS Pod Identity's agent assumes a pod's role and tags the session with the pod's cluster, namespace and service
# account (EKS user guide, "Create an IAM role for EKS Pod Identity": trust pods.eks.amazonaws.com with both actions).
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = ("sts:AssumeRole", "sts:TagSession")


def assume_role_policy(service: str, actions: tuple[str, ...] = ("sts:AssumeRole",)) -> str:
    action = actions[0] if len(actions) == 1 else list(actions)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": action}],
        }
    )
