"""The engine's floor: `count` plain ConfigMaps through one Kubernetes provider on the cluster the fleet
used (config `kubeconfig`, a file path, and `context`). benchmarks/live.py ups and destroys it."""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
provider = k8s.Provider(
    "floor",
    kubeconfig=Path(config.require("kubeconfig")).read_text(),
    context=config.require("context"),
)
for i in range(config.require_int("count")):
    k8s.core.v1.ConfigMap(
        f"floor-{i}",
        metadata={"name": f"floor-{i}", "namespace": "default"},
        data={"index": str(i)},
        opts=pulumi.ResourceOptions(provider=provider),
    )
