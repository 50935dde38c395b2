"""What a GPU node runs at boot: the user data that applies its pool's Ansible vars before the kubelet.

Pure functions of a PoolPlan: the platform puts the result into the pool's launch template, and
`gpufleet render` writes the same text for review. AL2023 pools get a MIME multipart for nodeadm
(EKS merges it with its own); Ubuntu pools boot Canonical's EKS AMI as a custom image, where EKS
merges nothing, so they get a cloud-config that runs the same steps and then joins the cluster
itself with /etc/eks/bootstrap.sh. The shared steps are one macro (templates/node-bootstrap-steps.sh.j2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .plan import PoolPlan
from .templating import render

MIME_BOUNDARY = "==GPUFLEET-BOUNDARY=="
CLOUD_CONFIG_HEADER = "#cloud-config"

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


def register_taints(pool: PoolPlan) -> str:
    """The kubelet's --register-with-taints value: taints are on the node from registration on."""
    return ",".join(t.as_flag() for t in pool.taints)


def node_labels(pool: PoolPlan) -> str:
    """The kubelet's --node-labels value."""
    return ",".join(f"{k}={v}" for k, v in sorted(pool.labels.items()))


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


def render_nodeadm_mime(pool: PoolPlan, bundle_bucket: str, bundle_key: str) -> str:
    """MIME multipart for AL2023 nodeadm: a NodeConfig that registers with the pool's taints, and
    a script that runs the site playbook before the kubelet starts."""
    return render(
        "node-userdata.mime.j2",
        boundary=MIME_BOUNDARY,
        taints=register_taints(pool),
        labels=node_labels(pool),
        **_boot_steps(pool, bundle_bucket, bundle_key),
    )


def render_cloud_config(pool: PoolPlan, bundle_bucket: str, bundle_key: str, cluster: ClusterJoin) -> str:
    """cloud-config for Ubuntu (Canonical's EKS AMI): the shared steps as a script run by runcmd,
    then /etc/eks/bootstrap.sh with the cluster's endpoint and CA and the pool's taints and labels."""
    return render(
        "node-userdata.cloud-config.j2",
        os=pool.os,
        awscli_version=UBUNTU_AWSCLI_VERSION,
        cluster_name=cluster.name,
        cluster_endpoint=cluster.endpoint,
        cluster_ca=cluster.certificate_authority,
        kubelet_extra_args=f"--register-with-taints={register_taints(pool)} --node-labels={node_labels(pool)}",
        **_boot_steps(pool, bundle_bucket, bundle_key),
    )


def render_user_data(pool: PoolPlan, bundle_bucket: str, bundle_key: str, cluster: Optional[ClusterJoin] = None) -> str:
    """The pool's user data: cloud-config on a custom (Ubuntu) AMI, which needs `cluster`; nodeadm MIME otherwise."""
    if pool.custom_ami:
        if cluster is None:
            raise ValueError(f"pool '{pool.name}' boots a custom AMI: its user data needs the cluster endpoint and CA")
        return render_cloud_config(pool, bundle_bucket, bundle_key, cluster)
    return render_nodeadm_mime(pool, bundle_bucket, bundle_key)
