"""The Pulumi components: aws/ (EKS cluster, node pools, bundle, access), kubernetes/ (everything on
the cluster), hosts/ (AnsibleRun), and platform.py, which wires them from one FleetPlan."""
