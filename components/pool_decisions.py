"""Pure decisions about a node pool: labels, taints, AMI type, capacity, EFA, driver.

No Pulumi here: the node pool component, the Kubernetes layer, the policy pack and the CLI all
derive what a pool looks like from these functions, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .facts import InstanceType
from .spec import UBUNTU_OS, FleetSpec, NodePoolSpec

from .fleet_labels import (
    CAPACITY_LABEL,
    DEVICE_PLUGIN_CONFIG_LABEL,
    DRIVER_LABEL,
    GPU_LABEL,
    GPU_PRESENT_LABEL,
    GPU_TAINT_KEY,
    MIG_CONFIG_LABEL,
    POOL_LABEL,
    SHARING_LABEL,
    SPOT_TAINT_KEY,
    TENANT_LABEL,
    TENANT_TAINT_KEY,
    WORKLOAD_LABEL,
)

# The EKS API spells taint effects differently from Kubernetes.
EKS_TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str  # Kubernetes spelling: NoSchedule, PreferNoSchedule, NoExecute

    def as_kubernetes(self) -> dict:
        return {"key": self.key, "value": self.value, "effect": self.effect}

    def as_eks(self) -> dict:
        return {"key": self.key, "value": self.value, "effect": EKS_TAINT_EFFECTS[self.effect]}

    def as_toleration(self) -> dict:
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


def representative_type(pool: NodePoolSpec) -> InstanceType:
    """The pool's first instance type; the spec guarantees one GPU model per pool."""
    return pool.catalog()[0]


def gpus_per_node(pool: NodePoolSpec) -> int:
    """GPUs every node of the pool has at least (spot pools may mix sizes)."""
    return min(t.gpus for t in pool.catalog())


def pool_driver(spec: FleetSpec, pool: NodePoolSpec) -> str:
    return pool.driver_version or spec.drivers.version


def capacity_type(pool: NodePoolSpec) -> str:
    return "SPOT" if pool.capacity == "spot" else "ON_DEMAND"


def custom_ami(pool: NodePoolSpec) -> bool:
    """Ubuntu pools boot Canonical's EKS AMI: EKS has no managed AMI type for it."""
    return pool.os in UBUNTU_OS


def ami_type(spec: FleetSpec, pool: NodePoolSpec) -> str:
    """Ubuntu: CUSTOM (the launch template names the image). AL2023 with drivers.install ami: EKS's NVIDIA
    AMI ships driver and toolkit. ansible: the standard AMI, drivers at boot."""
    if custom_ami(pool):
        return "CUSTOM"
    return "AL2023_x86_64_NVIDIA" if spec.drivers.install == "ami" else "AL2023_x86_64_STANDARD"


def image_id(pool: NodePoolSpec) -> Optional[str]:
    """The launch template's ImageId: the pool's amiId for a custom AMI, none for an EKS AMI type."""
    return pool.ami_id if custom_ami(pool) else None


def open_kernel_modules(spec: FleetSpec, pool: NodePoolSpec) -> bool:
    """Open modules where asked for and where the architecture supports them (Turing and newer)."""
    return spec.drivers.open_kernel_modules and representative_type(pool).gpu.architecture.open_kernel_modules


def efa_interfaces(pool: NodePoolSpec) -> int:
    """EFA interfaces the launch template attaches: what every instance type of the pool has."""
    return min(t.efa_interfaces for t in pool.catalog()) if pool.efa else 0


def needs_fabric_manager(pool: NodePoolSpec) -> bool:
    return any(t.nvswitch for t in pool.catalog())


def pool_labels(spec: FleetSpec, pool: NodePoolSpec) -> dict[str, str]:
    labels = {
        POOL_LABEL: pool.name,
        WORKLOAD_LABEL: pool.workload,
        CAPACITY_LABEL: pool.capacity,
        GPU_LABEL: representative_type(pool).gpu.model,
        DRIVER_LABEL: pool_driver(spec, pool),
        GPU_PRESENT_LABEL: "true",
        DEVICE_PLUGIN_CONFIG_LABEL: pool.name,
        SHARING_LABEL: pool.sharing.mode,
    }
    if pool.sharing.mode == "mig":
        labels[MIG_CONFIG_LABEL] = f"all-{pool.sharing.mig_profile}"
    owner = spec.dedicated_tenant(pool)
    if owner is not None:
        labels[TENANT_LABEL] = owner.name
    return {**pool.labels, **labels}


def pool_taints(spec: FleetSpec, pool: NodePoolSpec) -> list[Taint]:
    taints = [Taint(GPU_TAINT_KEY, "true", "NoSchedule")]
    if pool.capacity == "spot":
        taints.append(Taint(SPOT_TAINT_KEY, "spot", "NoSchedule"))
    owner = spec.dedicated_tenant(pool)
    if owner is not None:
        taints.append(Taint(TENANT_TAINT_KEY, owner.name, "NoSchedule"))
    taints += [Taint(t.key, t.value, t.effect) for t in pool.taints]
    return taints


def pool_tolerations(spec: FleetSpec, pool: NodePoolSpec) -> list[dict]:
    """Exactly the tolerations a pod needs to land on the pool."""
    return [t.as_toleration() for t in pool_taints(spec, pool)]
