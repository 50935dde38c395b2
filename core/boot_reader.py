"""Node user data read back: what a node will register with, whoever wrote the text.

The inverse of core.boot, for the policy pack (which sees only the launch template's user data)
and the tests: the MIME parts of nodeadm user data and its NodeConfig's kubelet flags, or the
keys of a cloud-config and the kubelet flags its script passes to /etc/eks/bootstrap.sh. Whatever
does not parse the way core.boot writes it is reported, never guessed at.
"""

from __future__ import annotations

import email
import shlex
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import yaml

from .boot import BOOTSTRAP_SCRIPT, CLOUD_CONFIG_HEADER, LOCAL_STORAGE_STRATEGIES, NODE_CONFIG_API, NVIDIA_RUNTIME_TOML, local_storage
from .kubelet import config_problems, split_config_flags

NODEADM = "nodeadm"
CLOUD_CONFIG = "cloud-config"
# What core.boot writes, and nothing else.
NODEADM_PARTS = ("application/node.eks.aws", "text/x-shellscript")
CLOUD_CONFIG_KEYS = ("package_update", "packages", "write_files", "runcmd")
JOIN_COMMAND = "/etc/eks/bootstrap.sh"
EXTRA_ARGS = "--kubelet-extra-args"


@dataclass(frozen=True)
class NodeBoot:
    format: Optional[str]
    """nodeadm (MIME multipart), cloud-config, or None when it is neither."""
    parts: tuple[str, ...] = ()
    """MIME content types in order, or the cloud-config's top-level keys."""
    kubelet_flags: Optional[tuple[str, ...]] = None
    """The flags the kubelet registers with (labels, taints); None when the user data sets none or they cannot be
    read."""
    kubelet_config: Mapping[str, Any] = field(default_factory=dict)
    """The kubelet settings of CPU and NUMA alignment (core.kubelet), from the NodeConfig or the join flags."""
    problems: tuple[str, ...] = field(default=())


def read_user_data(text: str) -> NodeBoot:
    if text.startswith(CLOUD_CONFIG_HEADER + "\n"):
        return _read_cloud_config(text)
    message = email.message_from_string(text)
    if message.is_multipart():
        return _read_mime(message)
    return NodeBoot(None, problems=("neither nodeadm MIME nor a cloud-config",))


def _read_mime(message) -> NodeBoot:
    parts = tuple(p.get_content_type() for p in message.get_payload())
    configs = [p.get_payload() for p in message.get_payload() if p.get_content_type() == NODEADM_PARTS[0]]
    if len(configs) != 1:
        return NodeBoot(NODEADM, parts, problems=(f"{len(configs)} NodeConfig parts",))
    try:
        document = yaml.safe_load(configs[0])
    except yaml.YAMLError as error:
        return NodeBoot(NODEADM, parts, problems=(f"NodeConfig is not YAML: {error}",))
    if not isinstance(document, dict) or document.get("apiVersion") != NODE_CONFIG_API or document.get("kind") != "NodeConfig":
        return NodeBoot(NODEADM, parts, problems=("the node.eks.aws part is not a NodeConfig",))
    spec = document.get("spec")
    kubelet = spec.get("kubelet") if isinstance(spec, dict) and isinstance(spec.get("kubelet"), dict) else {}
    flags = kubelet.get("flags")
    config = kubelet.get("config", {})
    containerd = spec.get("containerd") if isinstance(spec, dict) else None
    problems = []
    if containerd != {"config": NVIDIA_RUNTIME_TOML}:
        problems.append("the NodeConfig's containerd config is not the NVIDIA runtime's (containerd would run runc)")
    instance = spec.get("instance") if isinstance(spec, dict) else None
    if instance is not None and instance not in [local_storage(choice) for choice in LOCAL_STORAGE_STRATEGIES]:
        problems.append(f"the NodeConfig's instance settings {instance!r} are not a local storage strategy gpu-fleet writes")
    # A Karpenter pool's NodeConfig has no flags (Karpenter's own part says the labels and taints), or no kubelet.
    known_kubelet = {key: kubelet[key] for key in ("config", "flags") if key in kubelet}
    expected = {**({"instance": instance} if instance is not None else {}),
                **({"kubelet": known_kubelet} if isinstance(spec, dict) and "kubelet" in spec else {}),
                "containerd": containerd}
    if spec != expected:
        problems.append("the NodeConfig sets more than local storage, the kubelet's flags and config and containerd's runtime")
    if not isinstance(config, dict):
        problems.append("the NodeConfig's kubelet config is not a mapping")
        config = {}
    problems += [f"the kubelet config {p}" for p in config_problems(config)]
    if flags is None and "flags" not in kubelet:
        return NodeBoot(NODEADM, parts, None, config, tuple(problems))
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        return NodeBoot(NODEADM, parts, kubelet_config=config, problems=(*problems, "the NodeConfig has no list of kubelet flags"))
    return NodeBoot(NODEADM, parts, tuple(flags), config, tuple(problems))


def _read_cloud_config(text: str) -> NodeBoot:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return NodeBoot(CLOUD_CONFIG, problems=(f"not YAML: {error}",))
    if not isinstance(document, dict):
        return NodeBoot(CLOUD_CONFIG, problems=("not a mapping",))
    keys = tuple(document)
    files = document.get("write_files")
    scripts = [f.get("content") for f in files if isinstance(f, dict) and f.get("path") == BOOTSTRAP_SCRIPT] if isinstance(files, list) else []
    problems = []
    if document.get("runcmd") != [[BOOTSTRAP_SCRIPT]]:
        problems.append(f"runcmd runs more than {BOOTSTRAP_SCRIPT}")
    if len(scripts) != 1 or not isinstance(scripts[0], str):
        return NodeBoot(CLOUD_CONFIG, keys, problems=(*problems, f"no single {BOOTSTRAP_SCRIPT}"))
    flags, problems = _join_flags(scripts[0], problems)
    if flags is None:
        return NodeBoot(CLOUD_CONFIG, keys, problems=problems)
    config, flags = split_config_flags(flags)
    return NodeBoot(CLOUD_CONFIG, keys, flags, config, (*problems, *(f"the kubelet flags {p}" for p in config_problems(config))))


def _join_flags(script: str, problems: list[str]) -> tuple[Optional[tuple[str, ...]], tuple[str, ...]]:
    """The kubelet flags of the script's one /etc/eks/bootstrap.sh call, its last command, split as bash splits them."""
    calls = [i for i, line in enumerate(script.splitlines()) if line.startswith(JOIN_COMMAND + " ")]
    if len(calls) != 1:
        return None, (*problems, f"{len(calls)} calls of {JOIN_COMMAND}")
    call = "\n".join(script.splitlines()[calls[0]:]).replace("\\\n", " ")
    try:
        words = shlex.split(call)
    except ValueError as error:
        return None, (*problems, f"the {JOIN_COMMAND} call does not parse: {error}")
    if words.count(EXTRA_ARGS) != 1 or words.index(EXTRA_ARGS) + 2 != len(words):
        return None, (*problems, f"the script does not end with one {EXTRA_ARGS} value")
    return tuple(shlex.split(words[-1])), tuple(problems)
