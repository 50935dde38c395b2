"""What a GPU node runs at boot: the Ansible vars of its pool and the user data that applies them.

Pure functions: the node pool component puts the result into its launch template, and
`gpufleet render` writes the same text for review.
"""

from __future__ import annotations

from . import pool_decisions as decide
from .spec import FleetSpec, NodePoolSpec
from .templates import render

MIME_BOUNDARY = "==GPUFLEET-BOUNDARY=="


def ansible_vars(spec: FleetSpec, pool: NodePoolSpec) -> dict:
    """The variables playbooks/site.yml takes for this pool (names documented in playbooks/README.md)."""
    itype = decide.representative_type(pool)
    return {
        "gpufleet_install": spec.drivers.install == "ansible",
        "nvidia_driver_version": decide.pool_driver(spec, pool),
        "nvidia_driver_open_kernel_modules": decide.open_kernel_modules(spec, pool),
        "nvidia_driver_gpu_architecture": itype.gpu.architecture.name,
        "nvidia_container_toolkit_version": spec.drivers.container_toolkit,
        "nvidia_fabric_manager_enabled": decide.needs_fabric_manager(pool),
        "gpu_verify_expected_gpu_count": decide.gpus_per_node(pool),
        "gpu_verify_expected_gpu_model": itype.gpu.model,
    }


def render_user_data(spec: FleetSpec, pool: NodePoolSpec, bundle_bucket: str, bundle_key: str) -> str:
    """MIME multipart for AL2023 nodeadm: a NodeConfig that registers with the pool's taints, and
    a script that runs the site playbook before the kubelet starts."""
    taints = ",".join(f"{t.key}={t.value}:{t.effect}" for t in decide.pool_taints(spec, pool))
    labels = ",".join(f"{k}={v}" for k, v in sorted(decide.pool_labels(spec, pool).items()))
    return render(
        "node-userdata.mime.j2",
        boundary=MIME_BOUNDARY,
        pool=pool.name,
        taints=taints,
        labels=labels,
        ansible_vars=ansible_vars(spec, pool),
        gpus_by_instance_type={t.name: t.gpus for t in pool.catalog()},
        bundle_bucket=bundle_bucket,
        bundle_key=bundle_key,
    )
