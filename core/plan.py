"""The fleet plan: every decision about pools and tenants, computed once from the spec.

`plan_fleet(spec)` is pure and runs once per program (or `gpufleet` command). Each component
gets only its own part (a PoolPlan, a TenantPlan, the union of GPU tolerations), and the policy
pack and the CLI read the same names and values, so nothing derives a pool's labels or taints a
second time. The pool inventory the cluster publishes is the serialized PoolPlan list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from .access import PrincipalAccess, eks_access_plan
from .facts import InstanceType, load_facts
from .kubelet import TOPOLOGY_MANAGER_POLICY, kubelet_config
from .mig import config_label as mig_config_label
from .mig import pool_geometry
from .names import (
    CAPACITY_BLOCK,
    CAPACITY_BLOCK_CAPACITY_TYPE,
    CAPACITY_LABEL,
    DEVICE_PLUGIN_CONFIG_LABEL,
    DRIVER_LABEL,
    DRIVER_VERSION_VAR,
    EFA_RESOURCE,
    GPU_MODEL_VAR,
    GPU_LABEL,
    GPU_PRESENT_LABEL,
    GPU_QUOTA_RESOURCE,
    GPU_RESOURCE,
    GPU_TAINT_KEY,
    INSTALL_VAR,
    KARPENTER,
    MANAGED_BY,
    MANAGED_EXTERNALLY,
    MIG_CONFIG_LABEL,
    MIG_RESOURCE_PREFIX,
    NEVER,
    ON_DEMAND_CAPACITY_TYPE,
    OPEN_MODULES_VAR,
    POOL_LABEL,
    PRIORITY_CLASSES,
    PRIORITY_ORDER,
    RESERVED,
    SHARING_LABEL,
    SPOT,
    SPOT_CAPACITY_TYPE,
    SPOT_TAINT_KEY,
    SYSTEM_POOL,
    SYSTEM_PRIORITY_CLASSES,
    TENANT_LABEL,
    TENANT_TAINT_KEY,
    TOOLKIT_VERSION_VAR,
    WORKLOAD_LABEL,
)
from .spec import (
    DEFAULT_CONSOLIDATE_AFTER,
    UBUNTU_OS,
    AccessSpec,
    ClusterSpec,
    CostSpec,
    DevicePluginSpec,
    DisruptionSpec,
    FleetSpec,
    MonitoringSpec,
    NodePoolSpec,
    ReservationSpec,
    SharingSpec,
    TenantSpec,
)

if TYPE_CHECKING:
    from .queues import QueuePlan, TenantQueue

# The EKS API spells taint effects differently from Kubernetes.
EKS_TAINT_EFFECTS = MappingProxyType(
    {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
)
KUBERNETES_TAINT_EFFECTS = MappingProxyType({eks: k8s for k8s, eks in EKS_TAINT_EFFECTS.items()})


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str  # Kubernetes spelling: NoSchedule, PreferNoSchedule, NoExecute

    @staticmethod
    def of(key: str, value: str, effect: str) -> "Taint":
        """A taint read in either spelling of its effect (EKS NO_SCHEDULE or Kubernetes NoSchedule)."""
        return Taint(key, value, KUBERNETES_TAINT_EFFECTS.get(effect, effect))

    def as_kubernetes(self) -> dict:
        return {"key": self.key, "value": self.value, "effect": self.effect}

    def as_eks(self) -> dict:
        return {"key": self.key, "value": self.value, "effect": EKS_TAINT_EFFECTS[self.effect]}

    def as_toleration(self) -> dict:
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}

    def as_flag(self) -> str:
        """The kubelet's --register-with-taints spelling (key:effect for a taint without a value; both are what
        k8s.io/kubernetes pkg/util/taints ParseTaint reads)."""
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


def gpus_per_node(catalog: list[InstanceType]) -> int:
    """GPUs every node of a pool has at least (spot pools may mix sizes)."""
    return min(t.gpus for t in catalog)


# EKS AMI types: the standard AL2023 AMI (drivers installed at boot, or no GPU), and EKS's NVIDIA one.
STANDARD_AMI_TYPE = "AL2023_x86_64_STANDARD"
NVIDIA_AMI_TYPE = "AL2023_x86_64_NVIDIA"

# Sharing modes in which a pool advertises more units than it has GPUs.
TIME_SLICING = "time-slicing"
SHARED_MODES = frozenset({TIME_SLICING, "mig"})


def mig_devices_per_gpu(
    catalog: Sequence[InstanceType], mode: Optional[str], profile: Optional[str], profiles: Sequence[str] = ()
) -> tuple[str, ...]:
    """The GPU instances each GPU of a MIG pool is partitioned into (core.mig.pool_geometry); () without MIG."""
    if mode != "mig":
        return ()
    return pool_geometry(catalog, profile, profiles)


def devices_per_gpu(mig_devices: Sequence[str]) -> int:
    """Devices a pod gets to itself per GPU: its MIG instances (mig_devices_per_gpu) on a MIG pool, else the
    GPU. Time-slicing replicas are not counted: they share one GPU's memory and compute."""
    return len(mig_devices) or 1


def gpu_resources(sharing: SharingSpec, gpus: int, mig_devices: Sequence[str]) -> dict[str, int]:
    """The extended resources a node advertises and the units of each (NVIDIA/k8s-device-plugin, README "Configuring
    the NVIDIA device plugin", MIG strategies): nvidia.com/gpu per GPU, x replicas when time-sliced; under MIG
    single one nvidia.com/gpu per MIG device; under mixed nvidia.com/mig-<profile> per device of each profile."""
    if sharing.mode == TIME_SLICING:
        return {GPU_RESOURCE: gpus * sharing.replicas}
    if sharing.mode == "mig" and sharing.effective_mig_strategy == "mixed":
        profiles = mig_devices or sharing.mig_profiles or (sharing.mig_profile,)
        return {f"{MIG_RESOURCE_PREFIX}{p}": gpus * mig_devices.count(p) for p in sorted(set(profiles))}
    return {GPU_RESOURCE: gpus * devices_per_gpu(mig_devices)}


@dataclass(frozen=True)
class PoolPlan:
    """One node pool as every part of the fleet sees it."""

    name: str
    instance_types: tuple[str, ...]
    catalog: tuple[InstanceType, ...]
    """The facts of each instance type, in the spec's order (one GPU model per pool)."""
    capacity: str
    """on-demand, spot or reserved."""
    capacity_type: str
    """The EKS node group's: ON_DEMAND (an ODCR pool's too: its launch template targets the reservation), SPOT or
    CAPACITY_BLOCK."""
    reservation: Optional[ReservationSpec]
    """A reserved pool's reservations; None otherwise."""
    workload: str
    min_size: int
    desired_size: int
    max_size: int
    gpu: str
    """The GPU model, as NVIDIA and AWS name it."""
    gpus_per_node: int
    driver_version: str
    open_kernel_modules: bool
    """Open modules where asked for and where the architecture supports them (Turing and newer)."""
    sharing: SharingSpec
    gpu_resources: Mapping[str, int]
    """The extended resources a node advertises and the units of each (gpu_resources): one resource but on a
    MIG mixed pool with several profiles."""
    mig_devices: tuple[str, ...]
    """The GPU instances (profile names) each GPU is partitioned into at boot; () without MIG."""
    device_plugin_config: str
    """The device plugin config a node of the pool selects (its nvidia.com/device-plugin.config label)."""
    dedicated_tenant: Optional[str]
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    os: str
    custom_ami: bool
    """Ubuntu pools boot Canonical's EKS AMI: EKS has no managed AMI type for it."""
    ami_type: Optional[str]
    """EKS's AMI type; None on a custom AMI (CreateNodegroup: do not specify amiType when the launch
    template names the image)."""
    image_id: Optional[str]
    """The launch template's ImageId: the pool's amiId for a custom AMI, none for an EKS AMI type."""
    disk_gib: int
    efa: bool
    efa_interfaces: int
    """EFA interfaces the launch template attaches: what every instance type of the pool has."""
    fabric_manager: bool
    """Some instance type has NVSwitch, so NVIDIA fabric manager runs with the driver."""
    instance_store: Optional[str]
    """raid0: nodeadm builds the NVMe instance-store disks into one RAID0 volume at boot; None: left alone."""
    kubelet_config: Mapping[str, Any]
    """KubeletConfiguration fields the pool's nodes set (CPU and NUMA alignment, core/kubelet.py); {} for none."""
    ansible_vars: Mapping[str, Any]
    """The variables playbooks/site.yml takes for the pool (names documented in playbooks/README.md)."""
    managed_by: str
    """gpu-fleet where this stack creates the pool's nodes; existing where they already exist."""
    provisioner: Optional[str] = None
    """What launches the nodes this stack creates: karpenter or nodegroup; None where they already exist."""
    disruption: Optional[DisruptionSpec] = None
    """A Karpenter pool's disruption settings, defaults resolved (consolidation per workload); None otherwise."""

    @property
    def tolerations(self) -> list[dict]:
        """Exactly the tolerations a pod needs to land on the pool."""
        return [t.as_toleration() for t in self.taints]

    @property
    def in_placement_group(self) -> bool:
        """An EFA pool launches into a cluster placement group, but a reserved one: its reservation fixes where its
        instances go, and a placement group the reservation was not made in breaks its launches
        (terraform-aws-modules/terraform-aws-eks PR 3730)."""
        return self.efa and self.reservation is None

    @property
    def shared(self) -> bool:
        """Time-slicing or MIG: the pool advertises more units than it has GPUs."""
        return self.sharing.mode in SHARED_MODES

    def gpus(self, nodes: int) -> int:
        return nodes * self.gpus_per_node

    @property
    def devices_per_gpu(self) -> int:
        """Devices a pod gets to itself per GPU: its MIG instances on a MIG pool, else 1."""
        return devices_per_gpu(self.mig_devices)

    def devices(self, nodes: int) -> int:
        """Devices pods get to themselves on `nodes` nodes: GPUs, or MIG instances on a MIG pool."""
        return nodes * self.gpus_per_node * self.devices_per_gpu

    def inventory_entry(self) -> dict[str, Any]:
        """The pool as the gpu-system/gpufleet-node-pools ConfigMap publishes it."""
        return {
            "name": self.name,
            "instanceTypes": list(self.instance_types),
            "capacity": self.capacity,
            "capacityType": self.capacity_type,
            "workload": self.workload,
            "minSize": self.min_size,
            "desiredSize": self.desired_size,
            "maxSize": self.max_size,
            "gpu": self.gpu,
            "gpusPerNode": self.gpus_per_node,
            "gpuResources": dict(self.gpu_resources),
            "driverVersion": self.driver_version,
            "sharing": self.sharing.model_dump(by_alias=True, exclude_none=True),
            "efa": self.efa,
            **({"instanceStore": self.instance_store} if self.instance_store else {}),
            **({"kubeletConfig": dict(self.kubelet_config)} if self.kubelet_config else {}),
            "labels": dict(self.labels),
            "taints": [t.as_kubernetes() for t in self.taints],
            "managedBy": self.managed_by,
            **({"provisioner": self.provisioner} if self.provisioner else {}),
        }


@dataclass(frozen=True)
class Placement:
    """What a tenant's pod needs to land on one of its pools."""

    pool: str
    tolerations: tuple[dict, ...]
    gpu_resources: tuple[str, ...]
    """The extended resources a pod may request there (several on a MIG mixed pool with several profiles)."""
    sharing: str
    priority_class: str
    mig_devices: Mapping[str, str] = field(default_factory=dict)
    """On a MIG pool, resource -> the MIG profile one unit of it is; empty elsewhere."""
    topology_policy: Optional[str] = None
    """On a pool with CPU alignment: its topology manager policy (pods should be Guaranteed, whole CPUs)."""
    efa_devices: int = 0
    """EFA devices each node of the pool advertises as vpc.amazonaws.com/efa; 0 on a pool without EFA."""

    @property
    def node_selector(self) -> dict[str, str]:
        return {POOL_LABEL: self.pool}


@dataclass(frozen=True)
class TenantPlan:
    """One tenant and what it is allowed."""

    name: str
    gpu_quota: int
    cpu_quota: Optional[str]
    memory_quota: Optional[str]
    pools: tuple[str, ...]
    cuda_versions: tuple[str, ...]
    priority: str
    priority_class: str
    isolation: str
    access: AccessSpec
    placements: tuple[Placement, ...]
    """One per pool, in the tenant's order."""
    quota: Mapping[str, str]
    """The ResourceQuota's hard limits: every GPU resource of its pools, CPU and memory where given."""
    forbidden_priority_classes: tuple[str, ...] = ()
    """The fleet's priority classes above the tenant's priority, and Kubernetes' system-* classes: its
    namespace admits no pod of them."""


@dataclass(frozen=True)
class SystemPoolPlan:
    """The non-GPU pool for cluster services (CoreDNS, the fleet's controllers): on-demand, untainted."""

    name: str
    """Its gpufleet.io/pool label and node group suffix."""
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    disk_gib: int
    ami_type: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class FleetPlan:
    """The whole fleet, decided: what GpuPlatform is built from (its Args)."""

    cluster: ClusterSpec
    """The cluster: EKS to create (name, version, network) or an existing one (kubeconfig, context)."""
    pools: tuple[PoolPlan, ...]
    """Every node pool, in the spec's order."""
    tenants: tuple[TenantPlan, ...]
    """Every tenant, in the spec's order."""
    eks_access: tuple[PrincipalAccess, ...]
    """One EKS access entry per IAM principal of the tenants (used where the cluster is EKS)."""
    device_plugin: DevicePluginSpec
    """The device plugin's version and whether GPU Feature Discovery runs."""
    monitoring: MonitoringSpec
    """dcgm-exporter, its scrape config, alert thresholds."""
    cost: CostSpec
    """The assumptions of the plan's cost estimates."""
    system_pool: Optional[SystemPoolPlan] = None
    """The system pool the fleet creates, or None (an existing cluster's own nodes run cluster services)."""
    queues: Optional["QueuePlan"] = None
    """The tenants' fair-sharing queues (Kueue), or None when queues are off."""

    def pool(self, name: str) -> PoolPlan:
        return next(p for p in self.pools if p.name == name)

    def tenant(self, name: str) -> TenantPlan:
        return next(t for t in self.tenants if t.name == name)

    @property
    def gpu_taints(self) -> list[Taint]:
        """The union of every pool's taints, in pool order, without duplicates."""
        seen: list[Taint] = []
        for pool in self.pools:
            seen += [t for t in pool.taints if t not in seen]
        return seen

    @property
    def gpu_tolerations(self) -> tuple[dict, ...]:
        """Exactly the tolerations a per-GPU-node DaemonSet needs to reach every pool."""
        return tuple(t.as_toleration() for t in self.gpu_taints)

    @property
    def efa_pools(self) -> tuple[str, ...]:
        """The pools whose nodes carry EFA devices (the EFA device plugin runs there)."""
        return tuple(p.name for p in self.pools if p.efa)

    @property
    def karpenter_pools(self) -> tuple[PoolPlan, ...]:
        """The pools whose nodes Karpenter launches."""
        return tuple(p for p in self.pools if p.provisioner == KARPENTER)

    def pool_inventory(self) -> list[dict[str, Any]]:
        return [p.inventory_entry() for p in self.pools]


# --- pools ------------------------------------------------------------------------------


def _ami_type(install: str, custom_ami: bool) -> Optional[str]:
    """Ubuntu: none, the launch template names the image (EKS API reference, CreateNodegroup amiType:
    "If the node group was deployed with a launch template that uses a custom AMI, then don't specify
    amiType"). AL2023 with drivers.install ami: EKS's NVIDIA AMI ships driver and toolkit. ansible:
    the standard AMI, drivers at boot."""
    if custom_ami:
        return None
    return NVIDIA_AMI_TYPE if install == "ami" else STANDARD_AMI_TYPE


def _labels(pool: NodePoolSpec, gpu: str, driver: str, owner: Optional[str]) -> dict[str, str]:
    labels = {
        POOL_LABEL: pool.name,
        WORKLOAD_LABEL: pool.workload,
        CAPACITY_LABEL: pool.capacity,
        GPU_LABEL: gpu,
        DRIVER_LABEL: driver,
        GPU_PRESENT_LABEL: "true",
        DEVICE_PLUGIN_CONFIG_LABEL: pool.name,
        SHARING_LABEL: pool.sharing.mode,
    }
    if pool.sharing.mode == "mig":
        labels[MIG_CONFIG_LABEL] = mig_config_label(pool.sharing.mig_profile, pool.sharing.mig_profiles or ())
    if owner is not None:
        labels[TENANT_LABEL] = owner
    return {**pool.labels, **labels}


def _taints(pool: NodePoolSpec, owner: Optional[str]) -> tuple[Taint, ...]:
    taints = [Taint(GPU_TAINT_KEY, "true", "NoSchedule")]
    if pool.capacity == SPOT:
        taints.append(Taint(SPOT_TAINT_KEY, SPOT, "NoSchedule"))
    if owner is not None:
        taints.append(Taint(TENANT_TAINT_KEY, owner, "NoSchedule"))
    return (*taints, *(Taint(t.key, t.value, t.effect) for t in pool.taints))


def eks_capacity_type(pool: NodePoolSpec) -> str:
    if pool.capacity == SPOT:
        return SPOT_CAPACITY_TYPE
    if pool.reservation is not None and pool.reservation.type == CAPACITY_BLOCK:
        return CAPACITY_BLOCK_CAPACITY_TYPE
    return ON_DEMAND_CAPACITY_TYPE


def plan_pool(spec: FleetSpec, pool: NodePoolSpec) -> PoolPlan:
    catalog = tuple(pool.catalog())
    itype = catalog[0]  # the spec guarantees one GPU model per pool
    owner = spec.dedicated_tenant(pool.name)
    owner_name = owner.name if owner is not None else None
    driver = pool.driver_version or spec.drivers.version
    per_node = gpus_per_node(list(catalog))
    open_modules = spec.drivers.open_kernel_modules and itype.gpu.architecture.open_kernel_modules
    fabric_manager = any(t.nvswitch for t in catalog)
    custom_ami = pool.os in UBUNTU_OS
    mig_devices = mig_devices_per_gpu(catalog, pool.sharing.mode, pool.sharing.mig_profile, pool.sharing.mig_profiles or ())
    efa_interfaces = min(t.efa_interfaces for t in catalog) if pool.efa else 0
    efa = load_facts().efa
    return PoolPlan(
        name=pool.name,
        instance_types=tuple(pool.instance_types),
        catalog=catalog,
        capacity=pool.capacity,
        capacity_type=eks_capacity_type(pool),
        reservation=pool.reservation,
        workload=pool.workload,
        min_size=pool.min_size,
        desired_size=pool.desired,
        max_size=pool.max_size,
        gpu=itype.gpu.model,
        gpus_per_node=per_node,
        driver_version=driver,
        open_kernel_modules=open_modules,
        sharing=pool.sharing,
        gpu_resources=MappingProxyType(gpu_resources(pool.sharing, per_node, mig_devices)),
        mig_devices=mig_devices,
        device_plugin_config=pool.name,
        dedicated_tenant=owner_name,
        labels=MappingProxyType(_labels(pool, itype.gpu.model, driver, owner_name)),
        taints=_taints(pool, owner_name),
        os=pool.os,
        custom_ami=custom_ami,
        ami_type=_ami_type(spec.drivers.install, custom_ami),
        image_id=pool.ami_id if custom_ami else None,
        disk_gib=pool.disk_gib,
        efa=pool.efa,
        efa_interfaces=efa_interfaces,
        fabric_manager=fabric_manager,
        instance_store=pool.instance_store,
        kubelet_config=MappingProxyType(dict(kubelet_config(
            pool.cpu_alignment.topology_policy if pool.cpu_alignment else None,
            pool.cpu_alignment.reserved_cpus if pool.cpu_alignment else None,
        ))),
        ansible_vars=MappingProxyType(
            {
                INSTALL_VAR: spec.drivers.install == "ansible",
                DRIVER_VERSION_VAR: driver,
                OPEN_MODULES_VAR: open_modules,
                "nvidia_driver_gpu_architecture": itype.gpu.architecture.name,
                TOOLKIT_VERSION_VAR: spec.drivers.container_toolkit,
                "nvidia_fabric_manager_enabled": fabric_manager,
                "nvidia_fabric_manager_nvlsm": any(t.nvlsm for t in catalog),
                # Every EFA pool: the AMIs lack libfabric (AL2023's carry the kernel module only), which fi_info needs.
                "aws_efa_install": pool.efa,
                **({"aws_efa_installer_version": efa.installer_version, "aws_efa_installer_sha256": efa.installer_sha256}
                   if pool.efa else {}),
                "gpu_verify_expected_efa_devices": efa_interfaces,
                "nvidia_mig_devices": list(mig_devices),
                # AL2023's nodeadm builds the array itself (NodeConfig localStorage); Ubuntu's comes from the role.
                "instance_store_raid0": pool.instance_store == "raid0" and custom_ami,
                "gpu_verify_expect_fabric": fabric_manager and itype.gpu.architecture.reports_fabric_state,
                # Ubuntu's containerd config is written by /etc/eks/bootstrap.sh, after the playbook.
                "gpu_verify_check_container_runtime": not custom_ami,
                "gpu_verify_expected_gpu_count": per_node,
                GPU_MODEL_VAR: itype.gpu.model,
            }
        ),
        managed_by=MANAGED_BY if spec.cluster.mode == "eks" else MANAGED_EXTERNALLY,
        provisioner=spec.provisioner(pool),
        disruption=_disruption(pool) if spec.provisioner(pool) == KARPENTER else None,
    )


def _disruption(pool: NodePoolSpec) -> DisruptionSpec:
    """A training node is only ever removed once empty: consolidating it would evict a running job. A reserved
    pool's nodes are not consolidated at all: removing one saves nothing, and the next job waits for a new node's
    boot (Karpenter skips consolidation when consolidateAfter is Never: sigs.k8s.io/karpenter
    pkg/controllers/disruption/emptiness.go and consolidation.go)."""
    disruption = pool.disruption or DisruptionSpec()
    resolved = {}
    if disruption.consolidation is None:
        resolved["consolidation"] = "WhenEmpty" if pool.workload == "training" else "WhenEmptyOrUnderutilized"
    if disruption.consolidate_after is None:
        resolved["consolidate_after"] = NEVER if pool.capacity == RESERVED else DEFAULT_CONSOLIDATE_AFTER
    return disruption.model_copy(update=resolved)


# --- tenants ----------------------------------------------------------------------------


def efa_quota(gpu_quota: int, pool: PoolPlan) -> int:
    """The EFA devices that go with `gpu_quota` units of an EFA pool: its nodes' devices in proportion to
    their GPU units (a tenant holding a whole p5 may use its 32 devices), rounded up."""
    units_per_node = sum(pool.gpu_resources.values())
    return -(-gpu_quota * pool.efa_interfaces // units_per_node)


def _quota(tenant: TenantSpec, pools: dict[str, PoolPlan], queue: Optional["TenantQueue"]) -> dict[str, str]:
    """Extended resources only take a requests.* quota; every GPU resource of the tenant's pools, and the
    EFA devices of its EFA pools (without a line, a namespace may request none of them). With a queue, the
    GPU and EFA lines are the queue's ceiling (nominal + borrowing limit): Kueue decides within it, and the
    quota only stops pods no queue admitted."""
    hard = {f"requests.{r}": str(tenant.gpu_quota) for name in tenant.pools for r in pools[name].gpu_resources}
    efa = [efa_quota(tenant.gpu_quota, pools[name]) for name in tenant.pools if pools[name].efa]
    if efa:
        hard[f"requests.{EFA_RESOURCE}"] = str(max(efa))
    hard.setdefault(GPU_QUOTA_RESOURCE, str(tenant.gpu_quota))
    if queue is not None:
        hard.update({f"requests.{r}": str(units) for r, units in queue.ceiling.items()})
    if tenant.cpu_quota is not None:
        hard["requests.cpu"] = tenant.cpu_quota
    if tenant.memory_quota is not None:
        hard["requests.memory"] = tenant.memory_quota
    return dict(sorted(hard.items()))


def _mig_devices_of_resources(pool: PoolPlan) -> dict[str, str]:
    """On a MIG pool, the MIG profile one unit of each resource is; {} elsewhere."""
    if not pool.mig_devices:
        return {}
    if pool.sharing.effective_mig_strategy == "mixed":
        return {r: r.removeprefix(MIG_RESOURCE_PREFIX) for r in pool.gpu_resources}
    return {GPU_RESOURCE: pool.mig_devices[0]}


def plan_tenant(tenant: TenantSpec, pools: dict[str, PoolPlan], queue: Optional["TenantQueue"] = None) -> TenantPlan:
    priority_class = PRIORITY_CLASSES[tenant.priority]
    return TenantPlan(
        name=tenant.name,
        gpu_quota=tenant.gpu_quota,
        cpu_quota=tenant.cpu_quota,
        memory_quota=tenant.memory_quota,
        pools=tuple(tenant.pools),
        cuda_versions=tuple(tenant.cuda_versions),
        priority=tenant.priority,
        priority_class=priority_class,
        isolation=tenant.isolation,
        access=tenant.access,
        placements=tuple(
            Placement(
                pool=name,
                tolerations=tuple(pools[name].tolerations),
                gpu_resources=tuple(pools[name].gpu_resources),
                sharing=pools[name].sharing.mode,
                priority_class=priority_class,
                mig_devices=MappingProxyType(_mig_devices_of_resources(pools[name])),
                topology_policy=pools[name].kubelet_config.get(TOPOLOGY_MANAGER_POLICY),
                efa_devices=pools[name].efa_interfaces,
            )
            for name in tenant.pools
        ),
        quota=MappingProxyType(_quota(tenant, pools, queue)),
        forbidden_priority_classes=(
            *(PRIORITY_CLASSES[p] for p in PRIORITY_ORDER[PRIORITY_ORDER.index(tenant.priority) + 1 :]),
            *SYSTEM_PRIORITY_CLASSES,
        ),
    )


def plan_system_pool(spec: FleetSpec) -> Optional[SystemPoolPlan]:
    if not spec.system_pool_enabled:
        return None
    system = spec.system_pool
    return SystemPoolPlan(
        name=SYSTEM_POOL,
        instance_types=tuple(system.instance_types),
        min_size=system.min_size,
        desired_size=system.desired,
        max_size=system.max_size,
        disk_gib=system.disk_gib,
        ami_type=STANDARD_AMI_TYPE,  # no GPU, nothing to install
        labels=MappingProxyType({POOL_LABEL: SYSTEM_POOL}),
    )


def plan_fleet(spec: FleetSpec) -> FleetPlan:
    """Every pool and tenant decision of the fleet, once."""
    from .queues import plan_queues  # the queues are decided on the pools' plans (core/queues.py imports this module)

    pools = tuple(plan_pool(spec, pool) for pool in spec.node_pools)
    by_name = {p.name: p for p in pools}
    queues = plan_queues(spec, pools)
    return FleetPlan(
        system_pool=plan_system_pool(spec),
        cluster=spec.cluster,
        pools=pools,
        tenants=tuple(plan_tenant(t, by_name, queues.tenant(t.name) if queues else None) for t in spec.tenants),
        queues=queues,
        eks_access=tuple(eks_access_plan(spec.tenants)),
        device_plugin=spec.device_plugin,
        monitoring=spec.monitoring,
        cost=spec.cost,
    )
