"""SystemNamespace: the fleet's own namespace and the pool inventory it publishes.

gpu-system runs the device plugin, GPU Feature Discovery and dcgm-exporter, which need host
access (hostPath, capabilities), so Pod Security enforces `privileged` there; it still audits
and warns at `restricted` so anything beyond that shows up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from core.names import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NETWORK_POLICY_ENFORCED_ANNOTATION,
    POOL_INVENTORY_CONFIGMAP,
    POOL_INVENTORY_KEY,
    PSA_AUDIT_LABEL,
    PSA_ENFORCE_LABEL,
    PSA_WARN_LABEL,
    SYSTEM_NAMESPACE,
)
from core.plan import PoolPlan

from .meta import object_meta


def system_namespace_labels() -> dict[str, str]:
    return {
        MANAGED_BY_LABEL: MANAGED_BY,
        PSA_ENFORCE_LABEL: "privileged",
        PSA_AUDIT_LABEL: "restricted",
        PSA_WARN_LABEL: "restricted",
    }


def pool_inventory_data(pools: tuple[PoolPlan, ...]) -> dict[str, str]:
    """The ConfigMap data the policy pack reads: pools.json = the serialized pool plans."""
    return {POOL_INVENTORY_KEY: json.dumps([p.inventory_entry() for p in pools])}


def system_namespace_annotations(network_policy_enforced: bool) -> dict[str, str]:
    """What the policy pack reads off gpu-system besides the inventory: the stack's CNI declaration."""
    return {NETWORK_POLICY_ENFORCED_ANNOTATION: "true"} if network_policy_enforced else {}


@dataclass(frozen=True)
class SystemNamespaceArgs:
    pools: tuple[PoolPlan, ...]
    """Every pool, published as the pool inventory."""
    network_policy_enforced: bool = False
    """The stack declares that an existing cluster's CNI enforces NetworkPolicies (cluster.networkPolicyEnforced)."""


class SystemNamespace(pulumi.ComponentResource):
    """gpu-system and the gpufleet-node-pools inventory ConfigMap."""

    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: SystemNamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:system:SystemNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            SYSTEM_NAMESPACE,
            metadata=object_meta(
                SYSTEM_NAMESPACE,
                labels=system_namespace_labels(),
                annotations=system_namespace_annotations(args.network_policy_enforced) or None,
            ),
            opts=child,
        )
        self.namespace = ns.metadata.name
        k8s.core.v1.ConfigMap(
            f"{SYSTEM_NAMESPACE}-{POOL_INVENTORY_CONFIGMAP}",
            metadata=object_meta(POOL_INVENTORY_CONFIGMAP, self.namespace),
            data=pool_inventory_data(args.pools),
            opts=child,
        )
        self.register_outputs({"namespace": self.namespace})
