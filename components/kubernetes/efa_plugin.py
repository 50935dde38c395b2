"""EfaDevicePlugin: the AWS EFA device plugin on the nodes of EFA pools, advertising vpc.amazonaws.com/efa.

Neither the EKS AL2023 AMIs nor Canonical's ship the plugin (EKS user guide, "Use EFA with EKS": the AMIs
"do not include the EFA DRA driver or EFA device plugin"). The pod is the one of the upstream chart
(aws/eks-charts stable/aws-efa-k8s-device-plugin, templates/daemonset.yaml): privileged, host network, the
kubelet's device-plugin directory and /dev/infiniband from the host, node-critical, no API token. The chart
selects instance types; here the pool label selects exactly the EFA pools. The image lives in the region's
EKS registry (core.facts EksRegistries).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from core.facts import load_facts
from core.names import EFA_DEVICE_PLUGIN_APP, POOL_LABEL

from .device_plugin import KUBELET_DEVICE_PLUGINS
from .meta import NODE_CRITICAL, GpuDaemons, gpu_daemonset, node_affinity

INFINIBAND_DEVICES = "/dev/infiniband"
# The chart tolerates CriticalAddonsOnly besides the taints it is given.
CRITICAL_ADDONS_TOLERATION = {"key": "CriticalAddonsOnly", "operator": "Exists"}


def efa_plugin_pod_spec(image: pulumi.Input[str], efa_pools: tuple[str, ...], daemons: GpuDaemons) -> dict:
    """The chart's pod, placed on the EFA pools' nodes by their pool label."""
    return {
        "priorityClassName": NODE_CRITICAL,
        "hostNetwork": True,
        "automountServiceAccountToken": False,
        "affinity": node_affinity(POOL_LABEL, list(efa_pools)),
        "tolerations": [CRITICAL_ADDONS_TOLERATION, *(dict(t) for t in daemons.tolerations)],
        "containers": [{
            "name": EFA_DEVICE_PLUGIN_APP,
            "image": image,
            "securityContext": {"privileged": True, "allowPrivilegeEscalation": True, "runAsNonRoot": False,
                                "runAsUser": 0},
            "resources": {"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"memory": "64Mi"}},
            "volumeMounts": [
                {"name": "device-plugin", "mountPath": KUBELET_DEVICE_PLUGINS},
                {"name": "infiniband", "mountPath": INFINIBAND_DEVICES},
            ],
        }],
        "volumes": [
            {"name": "device-plugin", "hostPath": {"path": KUBELET_DEVICE_PLUGINS}},
            {"name": "infiniband", "hostPath": {"path": INFINIBAND_DEVICES}},
        ],
    }


@dataclass(frozen=True)
class EfaDevicePluginArgs:
    efa_pools: tuple[str, ...]
    """The names of the pools with efa: true (not empty)."""
    region: pulumi.Input[str]
    """The AWS region: the image comes from its EKS registry."""
    daemons: GpuDaemons
    """The GPU nodes' tolerations, the readiness wait and the system namespace."""


class EfaDevicePlugin(pulumi.ComponentResource):
    """The EFA device plugin DaemonSet on every node of an EFA pool."""

    def __init__(self, name: str, args: EfaDevicePluginArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:efa:EfaDevicePlugin", name, None, opts)
        image = pulumi.Output.from_input(args.region).apply(load_facts().efa_device_plugin_image)
        self.daemonset = gpu_daemonset(
            EFA_DEVICE_PLUGIN_APP,
            args.daemons,
            efa_plugin_pod_spec(image, args.efa_pools, args.daemons),
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"image": image})
