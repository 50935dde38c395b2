"""CPU and NUMA alignment: the kubelet configuration a latency pool asks for (pool key cpuAlignment).

The static CPU manager gives a Guaranteed pod's containers with whole-CPU requests exclusive CPUs, and the
topology manager keeps those CPUs, the GPUs and the memory on one NUMA node (single-numa-node) or refuses a pod
it cannot align (restricted). Upstream behaviour the rendering follows (tests/core/test_cpu_alignment.py):

- kubelet (k8s.io/kubernetes pkg/kubelet/cm/cpumanager/cpu_manager.go): the static policy needs a non-zero
  CPU reservation (kubeReserved + systemReserved cpu, or reservedSystemCPUs);
- kubelet (pkg/kubelet/apis/config/validation/validation.go): reservedSystemCPUs may not be combined with
  systemReservedCgroup or kubeReservedCgroup;
- nodeadm (awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go, withDefaultReservedResources) reserves CPU
  for the kubelet on every AL2023 node (kubeReserved cpu) and sets systemReservedCgroup /system and
  kubeReservedCgroup /runtime; NodeConfig spec.kubelet.config is merged over those defaults
  (nodeadm/api/v1alpha1/nodeconfig_types.go, KubeletOptions.Config).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

STATIC_CPU_MANAGER = "static"
TOPOLOGY_MANAGER_POLICY = "topologyManagerPolicy"  # the KubeletConfiguration field
TOPOLOGY_POLICIES = ("restricted", "single-numa-node")
# nodeadm's reserved cgroups, which the kubelet refuses next to reservedSystemCPUs: cleared when CPUs are named.
RESERVED_CGROUP_KEYS = ("systemReservedCgroup", "kubeReservedCgroup")

_CPUSET_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_cpuset(text: str) -> list[int]:
    """The CPUs of a kubelet cpuset ("0-1,4"; k8s.io/utils/cpuset Parse): ValueError when malformed."""
    cpus: list[int] = []
    for element in text.split(","):
        match = _CPUSET_RANGE.match(element.strip())
        if not match:
            raise ValueError(f"'{text}' is not a CPU list such as 0-1 or 0,2: element '{element}'")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ValueError(f"'{text}': range {element} runs backwards")
        cpus.extend(range(first, last + 1))
    return cpus


def kubelet_config(topology_policy: Optional[str], reserved_cpus: Optional[str]) -> Mapping[str, Any]:
    """The KubeletConfiguration fields of a pool with CPU alignment; {} without it."""
    if topology_policy is None:
        return {}
    config: dict[str, Any] = {"cpuManagerPolicy": STATIC_CPU_MANAGER, TOPOLOGY_MANAGER_POLICY: topology_policy}
    if reserved_cpus is not None:
        config["reservedSystemCPUs"] = reserved_cpus
        config.update({key: "" for key in RESERVED_CGROUP_KEYS})
    return config


# The fields a pool's kubelet config may set, and their kubelet flags where Ubuntu's bootstrap.sh passes them.
CONFIG_FLAGS = {"cpuManagerPolicy": "--cpu-manager-policy", TOPOLOGY_MANAGER_POLICY: "--topology-manager-policy"}
CONFIG_FIELDS = (*CONFIG_FLAGS, "reservedSystemCPUs", *RESERVED_CGROUP_KEYS)


def kubelet_config_flags(config: Mapping[str, Any]) -> list[str]:
    """The same settings as kubelet flags, for bootstrap.sh's --kubelet-extra-args (Ubuntu pools). The static
    policy's reservation there is the kubeReserved cpu of Canonical's /etc/eks/bootstrap.sh, Amazon's AL2
    bootstrap.sh adapted; no test here reads Canonical's script, so README names the check on a node."""
    if set(config) - set(CONFIG_FLAGS):  # the spec keeps reservedCpus off Ubuntu pools
        raise ValueError(f"no bootstrap.sh flags for {sorted(set(config) - set(CONFIG_FLAGS))}")
    return [f"{flag}={config[key]}" for key, flag in CONFIG_FLAGS.items() if key in config]


def split_config_flags(flags: tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Kubelet flags read back: the config fields they set (kubelet_config_flags' inverse) and the other flags."""
    by_flag = {flag: key for key, flag in CONFIG_FLAGS.items()}
    config: dict[str, str] = {}
    rest = []
    for flag in flags:
        name, _, value = flag.partition("=")
        if name in by_flag:
            config[by_flag[name]] = value
        else:
            rest.append(flag)
    return config, tuple(rest)


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """Why a kubelet would not run with this pool config (the upstream rules of the module docstring)."""
    problems = [f"sets {key}, which gpu-fleet does not write" for key in config if key not in CONFIG_FIELDS]
    if config and config.get("cpuManagerPolicy") != STATIC_CPU_MANAGER:
        problems.append(f"cpuManagerPolicy is {config.get('cpuManagerPolicy')!r}, not {STATIC_CPU_MANAGER!r}")
    if config and config.get(TOPOLOGY_MANAGER_POLICY) not in TOPOLOGY_POLICIES:
        problems.append(f"{TOPOLOGY_MANAGER_POLICY} is {config.get(TOPOLOGY_MANAGER_POLICY)!r}, not one of {list(TOPOLOGY_POLICIES)}")
    if "reservedSystemCPUs" in config:
        try:
            parse_cpuset(str(config["reservedSystemCPUs"]))
        except ValueError as error:
            problems.append(f"reservedSystemCPUs: {error}")
        if any(config.get(key) != "" for key in RESERVED_CGROUP_KEYS):
            problems.append("reservedSystemCPUs without clearing nodeadm's systemReservedCgroup and kubeReservedCgroup: "
                            "the kubelet refuses to start")
    return problems
