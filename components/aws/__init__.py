"""Components on the AWS provider: the EKS cluster and its network, GPU node pools, the playbook bundle, access entries."""
