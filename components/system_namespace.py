"""SystemNamespace: the fleet's own namespace and the pool inventory it publishes.

gpu-system runs the device plugin, GPU Feature Discovery and dcgm-exporter, which need host
access (hostPath, capabilities), so Pod Security enforces `privileged` there; it still audits
and warns at `restricted` so anything beyond that shows up.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from .fleet_labels import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    POOL_INVENTORY_CONFIGMAP,
    POOL_INVENTORY_KEY,
    PSA_AUDIT_LABEL,
    PSA_ENFORCE_LABEL,
    PSA_WARN_LABEL,
    SYSTEM_NAMESPACE,
)
from .pool_inventory import pool_inventory
from .spec import FleetSpec


def system_namespace_labels() -> dict[str, str]:
    return {
        MANAGED_BY_LABEL: MANAGED_BY,
        PSA_ENFORCE_LABEL: "privileged",
        PSA_AUDIT_LABEL: "restricted",
        PSA_WARN_LABEL: "restricted",
    }


def pool_inventory_data(spec: FleetSpec) -> dict[str, str]:
    """The ConfigMap data the policy pack reads: pools.json = the pool inventory."""
    return {POOL_INVENTORY_KEY: json.dumps(pool_inventory(spec))}


class SystemNamespace(pulumi.ComponentResource):
    """gpu-system and the gpufleet-node-pools inventory ConfigMap."""

    namespace: pulumi.Output[str]

    def __init__(self, name: str, spec: FleetSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:system:SystemNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            SYSTEM_NAMESPACE,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SYSTEM_NAMESPACE, labels=system_namespace_labels()),
            opts=child,
        )
        self.namespace = ns.metadata.name
        k8s.core.v1.ConfigMap(
            f"{SYSTEM_NAMESPACE}-{POOL_INVENTORY_CONFIGMAP}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=POOL_INVENTORY_CONFIGMAP, namespace=self.namespace, labels={MANAGED_BY_LABEL: MANAGED_BY}
            ),
            data=pool_inventory_data(spec),
            opts=child,
        )
        self.register_outputs({"namespace": self.namespace})
