"""Components on the cluster's Kubernetes provider: the system namespace, device plugin, monitoring, tenants, admission, priorities."""
