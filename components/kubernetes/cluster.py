"""ExistingCluster: a cluster that already exists, reached by kubeconfig (cluster.mode existing).

It creates no cloud resources, only the one Kubernetes provider the fleet's objects use. The
EKS cluster the program creates (components.aws.cluster) is the same kind of component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

# Both kinds of cluster share one type token, so a resource's URN does not depend on the mode's class.
CLUSTER_TYPE = "gpufleet:cluster:Cluster"


def provider_name(cluster: str) -> str:
    return f"{cluster}-k8s"


@dataclass(frozen=True)
class ExistingClusterArgs:
    name: str
    """The cluster's name (labels, dashboards)."""
    kubeconfig: Optional[str] = None
    """Path or contents of the kubeconfig; none: the provider's defaults (KUBECONFIG, ~/.kube/config)."""
    context: Optional[str] = None
    """kubeconfig context; none: its current context."""


class ExistingCluster(pulumi.ComponentResource):
    """The Kubernetes provider of an existing cluster."""

    provider: k8s.Provider
    name: pulumi.Output[str]

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(CLUSTER_TYPE, name, None, opts)
        self.name = pulumi.Output.from_input(args.name)
        # A kubeconfig given inline carries credentials (a client key, a token), and the provider's schema does not
        # mark its `kubeconfig` input secret: without this the state would hold it in plaintext, even when the
        # stack config keeps it as a secret. A path is harmless, but one rule for both keeps it simple.
        self.provider = k8s.Provider(
            provider_name(name),
            kubeconfig=None if args.kubeconfig is None else pulumi.Output.secret(args.kubeconfig),
            context=args.context,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.name})
