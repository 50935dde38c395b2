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


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )
