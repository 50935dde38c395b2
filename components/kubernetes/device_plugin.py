"""DevicePlugin: the NVIDIA k8s-device-plugin on every GPU node, configured per pool.

One ConfigMap holds a config file per pool (key = pool name) plus a fallback; the plugin's
config-manager sidecar reads the node's `nvidia.com/device-plugin.config` label (which
pool_decisions sets to the pool name), copies that file to /config/config.yaml and signals
the plugin to reload. This is the pattern of the upstream Helm chart for v0.20 ("multiple
config files"), written out as typed resources. MPS is never offered.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from core.facts import load_facts
from core.names import (
    DEVICE_LIST_STRATEGY,
    DEVICE_PLUGIN_APP,
    DEVICE_PLUGIN_CONFIG_LABEL,
    DEVICE_PLUGIN_CONFIGMAP,
    DEVICE_PLUGIN_DEFAULT_CONFIG,
    GPU_FEATURE_DISCOVERY_APP,
    VISIBLE_DEVICES_ENV,
)
from core.plan import PoolPlan
from core.spec import DevicePluginSpec
from core.templating import render

from .meta import (
    GpuDaemons,
    app_labels,
    gpu_daemonset,
    gpu_pod_placement,
    image,
    object_meta,
    restricted_container_security,
)

KUBELET_DEVICE_PLUGINS = "/var/lib/kubelet/device-plugins"
NFD_FEATURES_DIR = "/etc/kubernetes/node-feature-discovery/features.d"
CONFIG_DIR = "/config"
AVAILABLE_CONFIGS_DIR = "/available-configs"


@dataclass(frozen=True)
class PluginConfig:
    name: str
    description: str
    mig_strategy: str  # none | single | mixed
    replicas: int | None  # time-slicing replicas per GPU, None when not time-sliced

    def render(self) -> str:
        return render(
            "device-plugin-config.yaml.j2",
            description=self.description,
            mig_strategy=self.mig_strategy,
            replicas=self.replicas,
            device_list_strategy=DEVICE_LIST_STRATEGY,
        )


def pool_plugin_config(pool: PoolPlan) -> PluginConfig:
    """exclusive -> migStrategy none; time-slicing -> replicas per GPU; mig -> the pool's strategy."""
    return PluginConfig(
        name=pool.device_plugin_config,
        description=f"pool {pool.name} ({pool.sharing.mode})",
        mig_strategy=pool.sharing.effective_mig_strategy,
        replicas=pool.sharing.replicas if pool.sharing.mode == "time-slicing" else None,
    )


def plugin_configs(pools: tuple[PoolPlan, ...]) -> list[PluginConfig]:
    """One config per pool, plus the exclusive fallback for a GPU node without the label."""
    configs = [pool_plugin_config(pool) for pool in pools]
    if all(c.name != DEVICE_PLUGIN_DEFAULT_CONFIG for c in configs):
        configs.append(PluginConfig(DEVICE_PLUGIN_DEFAULT_CONFIG, "nodes without a pool config (exclusive)", "none", None))
    return configs


def plugin_config_data(pools: tuple[PoolPlan, ...]) -> dict[str, str]:
    """The ConfigMap data: file name (= label value) -> config file."""
    return {c.name: c.render() for c in plugin_configs(pools)}


# The toolkit counts a container with CAP_SYS_ADMIN as privileged: only then does it honour the plugin's
# own NVIDIA_VISIBLE_DEVICES=all (the nodes refuse it to unprivileged containers), and MIG devices need it
# too. The upstream Helm chart adds exactly this capability for volume-mounts or MIG
# (deployments/helm/nvidia-device-plugin/templates/daemonset-device-plugin.yml, v0.17+).
PLUGIN_CAPABILITIES = ["SYS_ADMIN"]


def _config_manager(image: str, process: str, oneshot: bool) -> dict:
    """The config-manager (init or sidecar): node label -> /config/config.yaml, SIGHUP the process."""
    return {
        "name": "config-manager-init" if oneshot else "config-manager",
        "image": image,
        "command": ["config-manager"],
        "env": [
            {"name": "ONESHOT", "value": "true" if oneshot else "false"},
            {"name": "KUBECONFIG", "value": ""},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "NODE_LABEL", "value": DEVICE_PLUGIN_CONFIG_LABEL},
            {"name": "CONFIG_FILE_SRCDIR", "value": AVAILABLE_CONFIGS_DIR},
            {"name": "CONFIG_FILE_DST", "value": f"{CONFIG_DIR}/config.yaml"},
            {"name": "DEFAULT_CONFIG", "value": DEVICE_PLUGIN_DEFAULT_CONFIG},
            {"name": "FALLBACK_STRATEGIES", "value": "named,single"},
            {"name": "SEND_SIGNAL", "value": "false" if oneshot else "true"},
            {"name": "SIGNAL", "value": "1"},
            {"name": "PROCESS_TO_SIGNAL", "value": process},
        ],
        "securityContext": restricted_container_security(),
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
        "volumeMounts": [
            {"name": "available-configs", "mountPath": AVAILABLE_CONFIGS_DIR, "readOnly": True},
            {"name": "config", "mountPath": CONFIG_DIR},
        ],
    }


def gpu_daemon_pod_spec(
    args: "DevicePluginArgs",
    *,
    image: str,
    process: str,
    host_paths: dict[str, tuple[str, bool]],
) -> dict:
    """A config-managed pod on every GPU node; host_paths: volume name -> (path, read-only)."""
    mig = any(p.sharing.mode == "mig" for p in args.pools)
    main = {
        "name": process,
        "image": image,
        "command": [process],
        "env": [
            {"name": "CONFIG_FILE", "value": f"{CONFIG_DIR}/config.yaml"},
            {"name": VISIBLE_DEVICES_ENV, "value": "all"},
            {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"},
            *([{"name": "NVIDIA_MIG_MONITOR_DEVICES", "value": "all"}] if mig else []),
        ],
        "securityContext": restricted_container_security(add_capabilities=PLUGIN_CAPABILITIES),
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            *[{"name": n, "mountPath": path, "readOnly": ro} for n, (path, ro) in host_paths.items()],
        ],
    }
    return {
        "serviceAccountName": DEVICE_PLUGIN_APP,
        "shareProcessNamespace": True,  # the sidecar signals the plugin after a config change
        **gpu_pod_placement(args.daemons.tolerations),
        "initContainers": [_config_manager(image, process, oneshot=True)],
        "containers": [main, _config_manager(image, process, oneshot=False)],
        "volumes": [
            {"name": "available-configs", "configMap": {"name": DEVICE_PLUGIN_CONFIGMAP}},
            {"name": "config", "emptyDir": {}},
            *[{"name": n, "hostPath": {"path": path, "type": "Directory" if ro else "DirectoryOrCreate"}}
              for n, (path, ro) in host_paths.items()],
        ],
    }


# The process each DaemonSet runs (the config-manager signals it after a config change).
PROCESSES = {DEVICE_PLUGIN_APP: "nvidia-device-plugin", GPU_FEATURE_DISCOVERY_APP: "gpu-feature-discovery"}

# The config-manager reads its own node's labels; nothing else needs the API.
CONFIG_MANAGER_RULES = [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]


@dataclass(frozen=True)
class DevicePluginArgs:
    pools: tuple[PoolPlan, ...]
    """Every GPU pool: one plugin config each (selected by the node's nvidia.com/device-plugin.config label)."""
    plugin: DevicePluginSpec
    """Plugin version and whether GPU Feature Discovery runs too."""
    daemons: GpuDaemons
    """The GPU nodes' tolerations, the readiness wait and the system namespace."""


class DevicePlugin(pulumi.ComponentResource):
    """k8s-device-plugin DaemonSet, its per-pool configs, and optionally GPU Feature Discovery."""

    def __init__(self, name: str, args: DevicePluginArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:device_plugin:DevicePlugin", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plugin_image = image(load_facts().software.device_plugin_image, args.plugin.version)
        labels = app_labels(DEVICE_PLUGIN_APP)
        namespace = args.daemons.namespace

        sa = k8s.core.v1.ServiceAccount(
            DEVICE_PLUGIN_APP, metadata=object_meta(DEVICE_PLUGIN_APP, namespace, labels), opts=child
        )
        role = k8s.rbac.v1.ClusterRole(
            f"gpufleet-{DEVICE_PLUGIN_APP}",
            metadata=object_meta(f"gpufleet-{DEVICE_PLUGIN_APP}", labels=labels),
            rules=CONFIG_MANAGER_RULES,
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"gpufleet-{DEVICE_PLUGIN_APP}",
            metadata=object_meta(f"gpufleet-{DEVICE_PLUGIN_APP}", labels=labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": sa.metadata.name, "namespace": namespace}],
            opts=child,
        )
        configs = k8s.core.v1.ConfigMap(
            DEVICE_PLUGIN_CONFIGMAP,
            metadata=object_meta(DEVICE_PLUGIN_CONFIGMAP, namespace, labels),
            data=plugin_config_data(args.pools),
            opts=child,
        )
        after_config = pulumi.ResourceOptions(parent=self, depends_on=[configs, sa])
        daemons = {DEVICE_PLUGIN_APP: {"device-plugin": (KUBELET_DEVICE_PLUGINS, False)}}
        if args.plugin.gpu_feature_discovery:
            # GFD writes feature files that node-feature-discovery's worker turns into labels.
            daemons[GPU_FEATURE_DISCOVERY_APP] = {"output-dir": (NFD_FEATURES_DIR, False), "host-sys": ("/sys", True)}
        self.daemonsets = {
            app: gpu_daemonset(
                app,
                args.daemons,
                gpu_daemon_pod_spec(args, image=plugin_image, process=PROCESSES[app], host_paths=host_paths),
                after_config,
            )
            for app, host_paths in daemons.items()
        }
        self.register_outputs({"image": plugin_image})
