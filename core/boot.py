"""What a GPU node runs at boot: the user data that applies its pool's Ansible vars before the kubelet.

Pure functions of a PoolPlan: the platform puts the result into the pool's launch template, and
`gpufleet render` writes the same text for review. AL2023 pools get a MIME multipart for nodeadm
(EKS merges it with its own); Ubuntu pools boot Canonical's EKS AMI as a custom image, where EKS
merges nothing, so they get a cloud-config that runs the same steps and then joins the cluster
itself with /etc/eks/bootstrap.sh. The shared steps are one macro (templates/node-bootstrap-steps.sh.j2).
Structured text goes through serializers: the NodeConfig and the cloud-config are dumped as YAML,
every value in a script is shell-quoted or JSON, and the MIME boundary is checked absent from the parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

import yaml

from .assets import TEMPLATES_DIR
from .karpenter import registration_taints
from .kubelet import kubelet_config_flags
from .plan import PoolPlan, Taint
from .templating import render

MIME_BOUNDARY = "==GPUFLEET-BOUNDARY=="
MIME_DELIMITERS = 3  # the opening delimiter of each of the two parts, and the closing one
NODE_CONFIG_API = "node.eks.aws/v1alpha1"
# NodeConfig spec.instance.localStorage.strategy (awslabs/amazon-eks-ami nodeadm/api/v1alpha1/nodeconfig_types.go:
# RAID0, RAID10 or Mount); nodeadm runs setup-local-disks, which builds the array and bind-mounts
# /var/lib/kubelet, /var/lib/containerd and /var/log/pods onto it before they start.
LOCAL_STORAGE_STRATEGIES = {"raid0": "RAID0"}
CLOUD_CONFIG_HEADER = "#cloud-config"
BOOTSTRAP_SCRIPT = "/opt/gpufleet/node-bootstrap.sh"
_NO_WRAP = 1 << 16  # YAML lines are never folded: a flag stays one line
# The NodeConfig's containerd config: nodeadm makes nvidia the default runtime only if the runtime's
# binary exists when its config step runs, before cloud-init, i.e. before the toolkit is installed.
NVIDIA_RUNTIME_TOML = (TEMPLATES_DIR / "containerd-nvidia-runtime.toml").read_text(encoding="utf-8")

# nodeadm-run.service starts containerd and the kubelet after cloud-final, and it has no Requires= on it
# (awslabs/amazon-eks-ami templates/al2023/runtime/rootfs/etc/systemd/system/nodeadm-run.service:
# After=nodeadm-config.service cloud-final.service), so a failed script would still let the node join.
# The script's first step adds this drop-in; its last creates the marker, on disk so a reboot keeps it. Without
# the marker nodeadm-run fails and the node powers off (a stopped instance fails its group's health check).
NODEADM_RUN_DROP_IN_DIR = "/etc/systemd/system/nodeadm-run.service.d"
NODEADM_RUN_DROP_IN = f"{NODEADM_RUN_DROP_IN_DIR}/10-gpufleet-verified.conf"
VERIFIED_MARKER_DIR = "/var/lib/gpufleet"
VERIFIED_MARKER = f"{VERIFIED_MARKER_DIR}/node-verified"
NODEADM_RUN_GATE = (
    "# gpu-fleet: containerd and the kubelet start only on a node whose NVIDIA stack was installed and verified;\n"
    "# a node whose bootstrap never got there (failed, killed, interrupted) powers off, so its group replaces it.\n"
    "[Unit]\n"
    "OnFailure=poweroff.target\n"
    "OnFailureJobMode=replace-irreversibly\n"
    "\n"
    "[Service]\n"
    f"ExecStartPre=/usr/bin/test -e {VERIFIED_MARKER}\n"
)

# What every node pip-installs into /opt/gpufleet/venv at boot. The distributions' own ansible-core
# (2.12 on Ubuntu 22.04, 2.16 on 24.04, older on AL2023) is older than the roles' min_ansible_version
# (2.17), and 2.17 is the newest series that still runs on Ubuntu 22.04's Python 3.10. awscli fetches
# the bundle on Ubuntu (not on every Ubuntu AMI; AL2023 ships AWS CLI v2).
ANSIBLE_CORE_VERSION = "2.17.14"
UBUNTU_AWSCLI_VERSION = "1.46.3"


@dataclass(frozen=True)
class ClusterJoin:
    """What a node on a custom AMI needs to join the EKS cluster (the Cluster component's outputs)."""

    name: str
    endpoint: str
    certificate_authority: str
    """Base64 of the cluster CA, as EKS gives it (certificateAuthority.data)."""


def register_taints(taints: Iterable[Taint]) -> str:
    """The kubelet's --register-with-taints value: taints are on the node from registration on."""
    return ",".join(t.as_flag() for t in taints)


def node_labels(labels: Mapping[str, str]) -> str:
    """The kubelet's --node-labels value."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def kubelet_flags(taints: Iterable[Taint], labels: Mapping[str, str]) -> list[str]:
    """The flags a pool's node registers with, in either OS's user data (the policy pack reads them back)."""
    return [f"--register-with-taints={register_taints(taints)}", f"--node-labels={node_labels(labels)}"]


def _boot_steps(pool: PoolPlan, bundle_bucket: str, bundle_key: str) -> dict:
    """The context of the shared boot steps, the same for every OS."""
    return {
        "pool": pool.name,
        "ansible_vars": dict(pool.ansible_vars),
        "gpus_by_instance_type": {t.name: t.gpus for t in pool.catalog},
        "bundle_bucket": bundle_bucket,
        "bundle_key": bundle_key,
        "ansible_core_version": ANSIBLE_CORE_VERSION,
    }


class _LiteralBlockDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so a script or TOML file inside the YAML reads as itself."""


_LiteralBlockDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def local_storage(instance_store: str) -> dict:
    """NodeConfig spec.instance for the pool's instanceStore choice."""
    return {"localStorage": {"strategy": LOCAL_STORAGE_STRATEGIES[instance_store]}}


def node_config(pool: PoolPlan) -> str:
    """nodeadm's NodeConfig (node.eks.aws/v1alpha1): the kubelet registers with the pool's taints and
    labels (Karpenter's own NodeConfig says them for a Karpenter pool), and containerd runs containers through
    the NVIDIA runtime."""
    kubelet: dict = {}
    if pool.kubelet_config:
        kubelet["config"] = dict(pool.kubelet_config)
    if (taints := registration_taints(pool)) is not None:
        kubelet["flags"] = kubelet_flags(taints, pool.labels)
    document = {
        "apiVersion": NODE_CONFIG_API,
        "kind": "NodeConfig",
        "spec": {
            **({"instance": local_storage(pool.instance_store)} if pool.instance_store else {}),
            **({"kubelet": kubelet} if kubelet else {}),
            "containerd": {"config": NVIDIA_RUNTIME_TOML},
        },
    }
    return yaml.dump(document, Dumper=_LiteralBlockDumper, sort_keys=False, explicit_start=True, width=_NO_WRAP)


def render_nodeadm_mime(pool: PoolPlan, bundle_bucket: str, bundle_key: str) -> str:
    """MIME multipart for AL2023 nodeadm: a NodeConfig that registers with the pool's taints, and
    a script that runs the site playbook before the kubelet starts."""
    text = render(
        "node-userdata.mime.j2",
        boundary=MIME_BOUNDARY,
        node_config=node_config(pool),
        gate={
            "drop_in_dir": NODEADM_RUN_DROP_IN_DIR,
            "drop_in": NODEADM_RUN_DROP_IN,
            "unit": NODEADM_RUN_GATE,
            "marker_dir": VERIFIED_MARKER_DIR,
            "marker": VERIFIED_MARKER,
        },
        **_boot_steps(pool, bundle_bucket, bundle_key),
    )
    # Two parts and the closing delimiter: any other occurrence would be content posing as a part.
    if text.count(f"--{MIME_BOUNDARY}") != MIME_DELIMITERS:
        raise ValueError(f"pool '{pool.name}': the MIME boundary occurs in the user data's content")
    return text


def render_cloud_config(pool: PoolPlan, bundle_bucket: str, bundle_key: str, cluster: ClusterJoin) -> str:
    """cloud-config for Ubuntu (Canonical's EKS AMI): the shared steps as a script run by runcmd,
    then /etc/eks/bootstrap.sh with the cluster's endpoint and CA and the pool's taints and labels."""
    script = render(
        "node-bootstrap-ubuntu.sh.j2",
        awscli_version=UBUNTU_AWSCLI_VERSION,
        cluster_name=cluster.name,
        cluster_endpoint=cluster.endpoint,
        cluster_ca=cluster.certificate_authority,
        kubelet_extra_args=" ".join(kubelet_flags(registration_taints(pool), pool.labels) + kubelet_config_flags(pool.kubelet_config)),
        **_boot_steps(pool, bundle_bucket, bundle_key),
    )
    document = {
        "package_update": True,
        "packages": ["python3-venv"],
        "write_files": [{"path": BOOTSTRAP_SCRIPT, "owner": "root:root", "permissions": "0700", "content": script}],
        "runcmd": [[BOOTSTRAP_SCRIPT]],
    }
    header = (
        f"{CLOUD_CONFIG_HEADER}\n"
        f"# gpu-fleet node bootstrap for pool {pool.name} ({pool.os}, Canonical's EKS AMI): the script below runs\n"
        "# the site playbook and only then joins the node with /etc/eks/bootstrap.sh.\n"
        "# cloud-init installs the packages (final stage) before it runs runcmd's script (scripts-user, later).\n"
    )
    return header + yaml.dump(document, Dumper=_LiteralBlockDumper, sort_keys=False, width=_NO_WRAP)


def render_user_data(pool: PoolPlan, bundle_bucket: str, bundle_key: str, cluster: Optional[ClusterJoin] = None) -> str:
    """The pool's user data: cloud-config on a custom (Ubuntu) AMI, which needs `cluster`; nodeadm MIME otherwise."""
    if pool.custom_ami:
        if cluster is None:
            raise ValueError(f"pool '{pool.name}' boots a custom AMI: its user data needs the cluster endpoint and CA")
        return render_cloud_config(pool, bundle_bucket, bundle_key, cluster)
    return render_nodeadm_mime(pool, bundle_bucket, bundle_key)
