"""The NVIDIA runtime reaches containerd through nodeadm on AL2023, as nodeadm really merges configs.

Upstream (awslabs/amazon-eks-ami, nodeadm, tag v20260724):
- nodeadm-config.service runs `nodeadm init --skip run` *before* cloud-init
  (templates/al2023/runtime/rootfs/etc/systemd/system/nodeadm-config.service: Before=cloud-init.service),
  and writes /etc/containerd/config.toml from its template, which has no `imports` line
  (nodeadm/internal/containerd/config.template.toml, config2.template.toml): a drop-in under
  /etc/containerd/conf.d is never read.
- It makes nvidia the default runtime only if /usr/bin/nvidia-container-runtime exists at that moment
  (nodeadm/internal/containerd/runtime_config_nvidia.go, Matches: os.Stat of the binary); the user
  data installs the toolkit later, so without more the node runs runc.
- The NodeConfig's spec.containerd.config is merged over the template by a deep merge in which the
  NodeConfig wins (nodeadm/internal/containerd/config.go combineContainerdConfigs ->
  nodeadm/internal/util/merge.go: mergo.Merge(..., mergo.WithOverride)).
- containerd 1.x refuses a NodeConfig TOML with version 3 keys; on containerd 2 a TOML without them is
  merged into the version 2 template and then migrated (`containerd config migrate`), config.go.
"""

from __future__ import annotations

import tomllib

import yaml
from fleet_fixtures import stack_config, plan_of

from core.boot import NVIDIA_RUNTIME_TOML, node_config

CRI_V2 = "io.containerd.grpc.v1.cri"
V3_PLUGINS = ("io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images")
RUNTIME_BINARY = "/usr/bin/nvidia-container-runtime"

# nodeadm's version 2 template as rendered when the nvidia binary is absent (runc, its one runtime).
TEMPLATE_WITHOUT_NVIDIA = {
    "version": 2,
    "root": "/var/lib/containerd",
    "state": "/run/containerd",
    "plugins": {
        CRI_V2: {
            "sandbox_image": "localhost/kubernetes/pause",
            "containerd": {
                "default_runtime_name": "runc",
                "discard_unpacked_layers": True,
                "runtimes": {
                    "runc": {
                        "runtime_type": "io.containerd.runc.v2",
                        "base_runtime_spec": "/etc/containerd/base-runtime-spec.json",
                        "options": {"BinaryName": "/usr/sbin/runc", "SystemdCgroup": True},
                    }
                },
            },
        }
    },
}


def merge_over(template: dict, user: dict) -> dict:
    """mergo.Merge(&dst, src, WithOverride) on maps: nested maps merge, the NodeConfig's values win."""
    merged = dict(template)
    for key, value in user.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_over(merged[key], value)
        else:
            merged[key] = value
    return merged


def _node_config_toml() -> dict:
    document = yaml.safe_load(node_config(plan_of(stack_config("dev")).pools[0]))
    return tomllib.loads(document["spec"]["containerd"]["config"])


def test_the_node_config_carries_the_runtime_toml_verbatim():
    assert tomllib.loads(NVIDIA_RUNTIME_TOML) == _node_config_toml()


def test_merged_over_nodeadms_template_containerd_runs_the_nvidia_runtime():
    merged = merge_over(TEMPLATE_WITHOUT_NVIDIA, _node_config_toml())
    containerd = merged["plugins"][CRI_V2]["containerd"]
    assert containerd["default_runtime_name"] == "nvidia"
    nvidia = containerd["runtimes"]["nvidia"]
    assert nvidia["runtime_type"] == "io.containerd.runc.v2"
    assert nvidia["options"] == {"BinaryName": RUNTIME_BINARY, "SystemdCgroup": True}
    # As nodeadm itself writes the runtime when it finds the binary: the same base runtime spec.
    assert nvidia["base_runtime_spec"] == containerd["runtimes"]["runc"]["base_runtime_spec"]
    assert merged["plugins"][CRI_V2]["sandbox_image"] == "localhost/kubernetes/pause"  # the template's own


def test_the_runtime_toml_is_accepted_by_containerd_1_and_migrated_on_2():
    document = _node_config_toml()
    assert document["version"] == 2
    assert not set(V3_PLUGINS) & set(document["plugins"]), "containerd 1.x nodes would refuse version 3 keys"

