"""The fleet spec: the `gpu-fleet:*` stack config, validated once into typed objects.

Keys are camelCase as Pulumi users write them; the models use snake_case. Unknown keys are
errors, defaults are filled here, and cross-field rules (sizes, pool references, sharing
settings against the GPU) are checked here so that components can trust what they get.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from datetime import datetime, time, timezone
from typing import Annotated, ClassVar, Literal, Optional, Union, get_args

from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator
from pydantic.alias_generators import to_camel

from .facts import InstanceType, load_facts
from .kubelet import TOPOLOGY_POLICIES, parse_cpuset
from .label_syntax import kubelet_refuses, label_value_error, qualified_name_error
from .mig import PROFILE as MIG_PROFILE
from .names import (
    AUTONAME_SUFFIX_LENGTH,
    CAPACITIES,
    CAPACITY_BLOCK,
    IAM_ROLE_NAME_MAX,
    KARPENTER,
    KARPENTER_ROLE_SUFFIXES,
    NODE_ROLE_SUFFIX,
    NODEGROUP,
    ODCR,
    ON_DEMAND,
    PROVISIONERS,
    RESERVED_LABEL_DOMAIN,
    RESERVED,
    RESERVED_LABELS,
    RESERVED_NAMESPACES,
    RESERVED_TAINTS,
    RESERVATION_TYPES,
    S3_BUCKET_NAME_MAX,
    SQS_QUEUE_NAME_MAX,
    SYSTEM_POOL,
    karpenter_name,
    node_pool_name,
    playbook_bucket_name,
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_IAM_PRINCIPAL = re.compile(r"^arn:aws:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")
_K8S_PRINCIPAL = re.compile(r"^(user|group):[^\s:][^\s]*$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$")
_AMI_ID = re.compile(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$")
# EC2NodeClass capacityReservationSelectorTerms[].id's pattern (karpenter.k8s.aws_ec2nodeclasses.yaml).
_CAPACITY_RESERVATION_ID = re.compile(r"cr-[0-9a-z]+")
# Go's time.Time String() layout ("2006-01-02 15:04:05.999999999 -0700 MST"), as the engine passes YAML times.
_GO_TIME = re.compile(r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?) (?P<offset>[+-]\d{4}) [A-Za-z0-9+-]+")
# "All Capacity Blocks end at 11:30AM UTC" (EC2 user guide, capacity-blocks-purchase.html).
CAPACITY_BLOCK_END = time(11, 30)
SHOWN_MAX = 80  # longer values are shortened in error messages
_KUBERNETES_VERSION = re.compile(r"1\.[0-9]{1,2}")
DEFAULT_CONSOLIDATE_AFTER = "15m"
# Karpenter's durations and disruption budgets (karpenter.sh_nodepools.yaml: consolidateAfter's pattern without
# Never, budgets[].nodes' pattern).
_DURATION = re.compile(r"([0-9]+(s|m|h))+")
_BUDGET_NODES = re.compile(r"(100|[1-9]?[0-9])%|[0-9]+")
# The OCI distribution spec's tag grammar.
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# EKS service quota: nodes per managed node group.
MAX_NODES_PER_POOL = 450
MAX_GPU_QUOTA = 100_000


def shortened(text: str) -> str:
    """Text for an error message, cut after SHOWN_MAX characters (saying how long it was)."""
    return text if len(text) <= SHOWN_MAX else f"{text[:SHOWN_MAX]}... ({len(text)} characters)"


def shown(value: object) -> str:
    """A value as an error message quotes it: in single quotes, escaped as JSON escapes (no raw
    newline or control character reaches a terminal), shortened when huge."""
    text = str(value)
    escaped = json.dumps(text[:SHOWN_MAX])[1:-1]
    return f"'{escaped}'" if len(text) <= SHOWN_MAX else f"'{escaped}...' ({len(text)} characters)"


def _matching(pattern: re.Pattern, problem: str):
    """A validator: the whole value matches `pattern` (fullmatch: '$' would let a trailing newline
    through), else an error quoting the value, then `problem`."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{shown(value)} {problem}")
        return value

    return check


def _vpc_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value)
    except ValueError:
        raise ValueError(f"{shown(value)} is not an IPv4 CIDR block") from None
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(f"{shown(value)} must be a /16 to /24 block (AWS allows /16 at most)")
    return value


def _version(kind: str):
    def check(value: str) -> str:
        try:
            Version(value)
        except InvalidVersion:
            raise ValueError(f"{shown(value)} is not a {kind} version") from None
        return value

    return check


def _gpu_instance_type(value: str) -> str:
    if load_facts().instance_type(value) is None:
        raise ValueError(f"unknown GPU instance type {shown(value)}")
    return value


_EC2_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
# Graviton families (m7g, c7gn, t4g, r8gd...): arm64, while the system pool runs the x86_64 AMI.
_ARM_FAMILY = re.compile(r"[a-z]+[0-9]+g[a-z]*")


def _system_instance_type(value: str) -> str:
    if not _EC2_INSTANCE_TYPE.fullmatch(value):
        raise ValueError(f"{shown(value)} is not an EC2 instance type (e.g. m6i.large)")
    if load_facts().instance_type(value) is not None:
        raise ValueError(f"{shown(value)} is a GPU instance type: the system pool runs cluster services, not GPU work")
    if _ARM_FAMILY.fullmatch(value.split(".")[0]):
        raise ValueError(f"{shown(value)} is an Arm (Graviton) type: the system pool runs the x86_64 AL2023 AMI")
    return value


def _pool_name(value: str) -> str:
    if value == SYSTEM_POOL:
        raise ValueError(f"{shown(value)} is the system pool's name (systemPool)")
    return value


def _cuda_version(value: str) -> str:
    _version("CUDA")(value)
    if load_facts().cuda_min_driver(value) is None:
        raise ValueError(f"unknown CUDA version {shown(value)}")
    return value


def _principal(value: str) -> str:
    if not (_IAM_PRINCIPAL.fullmatch(value) or _K8S_PRINCIPAL.fullmatch(value)):
        raise ValueError(
            f"{shown(value)} is not a principal: use an IAM role/user ARN, 'user:NAME' or 'group:NAME'"
        )
    return value


def _qualified_name(what: str, value: str) -> None:
    problem = qualified_name_error(value)
    if problem is not None:
        raise ValueError(f"{what} {shown(value)} is not a Kubernetes qualified name: {problem}")


def _fleet_owned(value: str) -> bool:
    domain = value.rpartition("/")[0]
    return domain == RESERVED_LABEL_DOMAIN or domain.endswith("." + RESERVED_LABEL_DOMAIN)


def _label_key(value: str) -> str:
    _qualified_name("label key", value)
    if _fleet_owned(value) or value in RESERVED_LABELS:
        raise ValueError(f"label key {shown(value)} is reserved: the fleet sets it on every node of the pool")
    if kubelet_refuses(value):
        raise ValueError(
            f"label key {shown(value)} is in a kubernetes.io/k8s.io namespace the kubelet may not set "
            "(--node-labels allows node.kubernetes.io/*, kubelet.kubernetes.io/* and a few well-known labels)"
        )
    return value


def _label_value(value: str) -> str:
    problem = label_value_error(value)
    if problem is not None:
        raise ValueError(f"{shown(value)} is not a Kubernetes label value: {problem}")
    return value


def _taint_key(value: str) -> str:
    _qualified_name("taint key", value)
    if _fleet_owned(value) or value in RESERVED_TAINTS:
        raise ValueError(f"taint key {shown(value)} is reserved: the fleet taints GPU, spot and dedicated pools itself")
    return value


def _tenant_name(value: str) -> str:
    if value in RESERVED_NAMESPACES:
        raise ValueError(f"{shown(value)} is reserved (Kubernetes' own namespaces and the fleet's {sorted(RESERVED_NAMESPACES)})")
    return value


DnsLabel = Annotated[
    str, AfterValidator(_matching(_DNS_LABEL, "is not a DNS label (lowercase letters, digits and '-', at most 63)"))
]
VpcCidr = Annotated[str, AfterValidator(_vpc_cidr)]
DriverVersion = Annotated[str, AfterValidator(_version("driver"))]
ToolkitVersion = Annotated[str, AfterValidator(_version("container toolkit"))]
CudaVersion = Annotated[str, AfterValidator(_cuda_version)]
GpuInstanceType = Annotated[str, AfterValidator(_gpu_instance_type)]
SystemInstanceType = Annotated[str, AfterValidator(_system_instance_type)]
Principal = Annotated[str, AfterValidator(_principal)]
Quantity = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, (int, float)) else v), AfterValidator(_matching(_QUANTITY, "is not a Kubernetes quantity (e.g. 64, 500m, 256Gi)"))]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
TaintKey = Annotated[str, AfterValidator(_taint_key)]
TenantName = Annotated[DnsLabel, AfterValidator(_tenant_name)]
AmiId = Annotated[str, AfterValidator(_matching(_AMI_ID, "is not an AMI id (ami- and 8 or 17 hex digits)"))]
MigProfileName = Annotated[str, AfterValidator(_matching(MIG_PROFILE, "is not a MIG profile (<compute>g.<memory>gb, e.g. 3g.40gb)"))]
KubernetesVersion = Annotated[
    str, AfterValidator(_matching(_KUBERNETES_VERSION, "is not a Kubernetes version: write major.minor, e.g. 1.33"))
]
ImageTag = Annotated[
    str, AfterValidator(_matching(_IMAGE_TAG, "is not an image tag (letters, digits, '_', '.', '-'; at most 128)"))
]

# Node operating systems: AL2023 boots through EKS's own AMI types (nodeadm); Ubuntu through
# Canonical's EKS AMIs as a custom image (cloud-init user data, /etc/eks/bootstrap.sh).
NodeOs = Literal["al2023", "ubuntu-22.04", "ubuntu-24.04"]
UBUNTU_OS = tuple(os for os in get_args(NodeOs) if os.startswith("ubuntu-"))


class SpecModel(BaseModel):
    """Base of every spec object: camelCase keys, unknown keys rejected, immutable, and strict types
    (YAML's `true` is no integer and 5.0 no node count)."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True
    )


# --- cluster ---------------------------------------------------------------------------


# Tags that tell pydantic which form a union value has; spec_loader drops them from error paths.
ZONE_TAGS = ("zoneNames", "zoneCount")
AvailabilityZones = Annotated[
    Union[
        Annotated[Annotated[list[str], Field(min_length=2, max_length=6)], Tag(ZONE_TAGS[0])],
        Annotated[Annotated[int, Field(ge=2, le=6)], Tag(ZONE_TAGS[1])],
    ],
    Discriminator(lambda v: ZONE_TAGS[1] if isinstance(v, int) and not isinstance(v, bool) else ZONE_TAGS[0]),
]


class NewVpc(SpecModel):
    cidr: VpcCidr = Field("10.0.0.0/16", description="CIDR of the VPC the program creates (/16 to /24).")
    availability_zones: AvailabilityZones = Field(
        description="AZs for one private and one public subnet each (EKS needs two): their names, or how many of "
        "the region's available AZs to use (2 to 6, the first ones AWS lists, looked up at deploy time)."
    )


class ExistingVpc(SpecModel):
    vpc_id: str = Field(description="An existing VPC to place the cluster and node pools in.")
    subnet_ids: list[str] = Field(min_length=2, description="Private subnets for control plane and nodes.")


# Tags that tell pydantic which VPC shape it has; spec_loader drops them (and ZONE_TAGS) from error paths.
VPC_TAGS = ("newVpc", "existingVpc")
UNION_TAGS = frozenset(VPC_TAGS + ZONE_TAGS)
Vpc = Annotated[
    Union[Annotated[NewVpc, Tag(VPC_TAGS[0])], Annotated[ExistingVpc, Tag(VPC_TAGS[1])]],
    Discriminator(lambda v: VPC_TAGS[1] if (isinstance(v, dict) and "vpcId" in v) or isinstance(v, ExistingVpc) else VPC_TAGS[0]),
]


class ClusterSpec(SpecModel):
    mode: Literal["eks", "existing"] = Field(
        description="eks: the program creates VPC and EKS cluster. existing: use kubeconfig, create no AWS resources."
    )
    name: DnsLabel = Field(description="Cluster name; prefixes every AWS resource.")
    kubernetes_version: KubernetesVersion = Field(
        "1.33", description="EKS Kubernetes version, major.minor (e.g. 1.33). Only valid when mode is eks."
    )
    vpc: Optional[Vpc] = Field(
        None, description="Network for an eks cluster: {cidr, availabilityZones} or {vpcId, subnetIds}."
    )
    kubeconfig: Optional[str] = Field(
        None,
        description="Path or contents of the kubeconfig (contents: set them with `pulumi config set --secret`; the "
        "state keeps them encrypted either way). Only valid when mode is existing."
    )
    context: Optional[str] = Field(None, description="kubeconfig context. Only valid when mode is existing.")
    network_policy_enforced: Optional[bool] = Field(
        None,
        description="Only valid when mode is existing: true declares that the cluster's CNI enforces NetworkPolicies "
        "(Calico, Cilium, the VPC CNI with network policy on). Tenant isolation relies on them, so the mandatory "
        "policy network-policy-enforced fails a stack with tenants until this is true. On eks the program turns "
        "the VPC CNI's enforcement on itself.",
    )
    await_workloads: bool = Field(
        True,
        description="Wait for the fleet's DaemonSets (device plugin, GPU Feature Discovery, dcgm-exporter) to "
        "become ready during `pulumi up`. false annotates them `pulumi.com/skipAwait: \"true\"`: for control "
        "planes without kubelets (the local stack), where no pod ever runs.",
    )

    @model_validator(mode="after")
    def _mode_fields(self) -> "ClusterSpec":
        if self.mode == "eks":
            if self.vpc is None:
                raise ValueError("mode eks needs 'vpc' ({cidr, availabilityZones} or {vpcId, subnetIds})")
            if self.kubeconfig is not None or self.context is not None or self.network_policy_enforced is not None:
                raise ValueError("'kubeconfig', 'context' and 'networkPolicyEnforced' are only valid when mode is existing")
        elif self.vpc is not None:
            raise ValueError("'vpc' is only valid when mode is eks")
        return self


# --- drivers ---------------------------------------------------------------------------


class DriversSpec(SpecModel):
    install: Literal["ansible", "ami"] = Field(
        "ansible",
        description="ansible: a base AMI, driver and toolkit installed at boot by playbooks/. "
        "ami: the EKS NVIDIA AMI (Amazon Linux 2023: on eks clusters only with os al2023 pools); the playbooks "
        "only verify.",
    )
    version: DriverVersion = Field(
        default_factory=lambda: load_facts().software.driver_version, description="Pinned NVIDIA driver."
    )
    container_toolkit: ToolkitVersion = Field(
        default_factory=lambda: load_facts().software.container_toolkit_version,
        description="Pinned nvidia-container-toolkit.",
    )
    open_kernel_modules: bool = Field(
        True,
        description="NVIDIA's open GPU kernel modules where the GPU supports them (Turing and newer; pre-Turing GPUs get "
        "the proprietary ones). Blackwell supports only the open modules, so false is refused for Blackwell pools.",
    )


# --- node pools ------------------------------------------------------------------------


class SharingSpec(SpecModel):
    mode: Literal["exclusive", "time-slicing", "mig"] = Field(
        "exclusive", description="How pods share a GPU. MPS is not offered (no memory isolation)."
    )
    replicas: Optional[int] = Field(
        None, ge=2, le=64, description="Pods per GPU. Only valid, and required, when mode is time-slicing."
    )
    mig_strategy: Optional[Literal["single", "mixed"]] = Field(
        None, description="Device plugin MIG strategy. Only valid when mode is mig (default single)."
    )
    mig_profile: Optional[MigProfileName] = Field(
        None,
        description="MIG profile such as 3g.40gb: every GPU is partitioned at boot into as many instances of it as it "
        "holds (two 3g.40gb on an H100 80GB), and a node advertises one unit per instance: nvidia.com/gpu under "
        "migStrategy single, nvidia.com/mig-<profile> under mixed. With mode mig, give migProfile or migProfiles.",
    )
    mig_profiles: Optional[list[MigProfileName]] = Field(
        None,
        min_length=1,
        max_length=7,
        description="Under migStrategy mixed, the GPU instances every GPU is partitioned into, e.g. [1g.10gb, 1g.10gb, "
        "2g.20gb, 3g.40gb] on an H100 80GB (NVIDIA's balanced geometry); they must fit on the GPU together (NVIDIA "
        "MIG user guide placements). A node advertises nvidia.com/mig-<profile> for each profile, GPUs x its count.",
    )

    @model_validator(mode="after")
    def _mode_fields(self) -> "SharingSpec":
        if self.mode == "time-slicing" and self.replicas is None:
            raise ValueError("time-slicing needs 'replicas' (2 or more pods per GPU)")
        if self.mode != "time-slicing" and self.replicas is not None:
            raise ValueError("'replicas' is only valid when mode is time-slicing")
        if self.mode != "mig":
            if self.mig_strategy is not None or self.mig_profile is not None or self.mig_profiles is not None:
                raise ValueError("'migStrategy', 'migProfile' and 'migProfiles' are only valid when mode is mig")
            return self
        if (self.mig_profile is None) == (self.mig_profiles is None):
            raise ValueError("mig needs one of 'migProfile' (e.g. 1g.10gb) or 'migProfiles' (a list, migStrategy mixed)")
        if self.mig_profiles is not None and self.mig_strategy != "mixed":
            raise ValueError("'migProfiles' needs migStrategy mixed: under single every MIG device of a node is one "
                             "profile (use migProfile)")
        return self

    @property
    def effective_mig_strategy(self) -> str:
        if self.mode != "mig":
            return "none"
        return self.mig_strategy or "single"


def _cpuset(value: str) -> str:
    parse_cpuset(value)
    return value


CpuSet = Annotated[str, AfterValidator(_cpuset)]


class CpuAlignmentSpec(SpecModel):
    topology_policy: Literal[TOPOLOGY_POLICIES] = Field(
        description="The kubelet's topology manager policy: single-numa-node keeps a pod's CPUs, GPUs and memory "
        "on one NUMA node; restricted refuses a pod whose resources cannot be aligned. The CPU manager runs the "
        "static policy: Guaranteed pods with whole-CPU requests get exclusive CPUs."
    )
    reserved_cpus: Optional[CpuSet] = Field(
        None,
        description="CPUs kept for the system and the kubelet (reservedSystemCPUs, e.g. 0-1), never given to pods. "
        "Default: the CPU reservation nodeadm computes. AL2023 pools only.",
    )


class TaintSpec(SpecModel):
    key: TaintKey = Field(description="Taint key: a Kubernetes qualified name, not gpufleet.io/* or nvidia.com/gpu.")
    value: LabelValue = Field("", description="Taint value: a Kubernetes label value (at most 63 characters).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = Field("NoSchedule", description="Taint effect.")


Duration = Annotated[str, AfterValidator(_matching(_DURATION, "is not a duration such as 30s, 15m or 1h30m"))]
BudgetNodes = Annotated[str, AfterValidator(_matching(_BUDGET_NODES, "is not a node count or a percentage (1, 10%)"))]


class DisruptionSpec(SpecModel):
    """When Karpenter may take a pool's nodes away (provisioner karpenter only)."""

    consolidation: Optional[Literal["WhenEmpty", "WhenEmptyOrUnderutilized"]] = Field(
        None,
        description="Which nodes Karpenter consolidates. WhenEmpty: only nodes running no pods but daemons, so a "
        "training job is never moved; WhenEmptyOrUnderutilized: also nodes whose pods fit elsewhere (they are "
        "evicted and rescheduled). Default: WhenEmpty for training pools, WhenEmptyOrUnderutilized otherwise.",
    )
    consolidate_after: Optional[Duration] = Field(
        None,
        description=f"How long a node must stay empty (or underutilized) before Karpenter removes it: longer than "
        f"the gap between two jobs, since a new GPU node boots for minutes (driver install and verification). "
        f"Default: {DEFAULT_CONSOLIDATE_AFTER}; on a reserved pool never (Karpenter does not consolidate it), as its "
        "reservations are paid whether its nodes run or not.",
    )
    budget: BudgetNodes = Field(
        "1", description="Nodes of the pool Karpenter may disrupt at once: a count or a percentage of the pool."
    )


def timestamp(value: object) -> object:
    """An RFC 3339 time with a zone (2027-01-04T11:30:00Z). Unquoted in a stack file it is a YAML time: the file
    reader gives a datetime, and the Pulumi engine hands the program Go's text of it (sdk/go/common/resource/config
    object.go: time.Time's String(), "2027-01-04 11:30:00 +0000 UTC"); quoted, the text as written."""
    if isinstance(value, str):
        engine = _GO_TIME.fullmatch(value)
        text = f"{engine['time']}{engine['offset'][:3]}:{engine['offset'][3:]}" if engine else value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{shown(value)} is not a time such as 2027-01-04T11:30:00Z") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{shown(value.isoformat())} has no time zone: write it in UTC, e.g. 2027-01-04T11:30:00Z")
        return value.astimezone(timezone.utc)
    return value


def _reservation_tags(tags: dict[str, str]) -> dict[str, str]:
    if any(not key or not value for key, value in tags.items()):
        raise ValueError("empty tag keys or values select nothing (EC2NodeClass capacityReservationSelectorTerms)")
    return tags


Timestamp = Annotated[datetime, BeforeValidator(timestamp)]
CapacityReservationId = Annotated[
    str, AfterValidator(_matching(_CAPACITY_RESERVATION_ID, "is not a capacity reservation id (cr- and lowercase "
                                  "letters or digits)"))
]


class ReservationSpec(SpecModel):
    """The EC2 capacity reservations a pool with capacity reserved launches into (README, Reserved capacity)."""

    type: Literal[RESERVATION_TYPES] = Field(
        ODCR,
        description=f"{ODCR}: On-Demand Capacity Reservations, billed at the on-demand rate while they exist, used "
        f"or not. {CAPACITY_BLOCK}: an EC2 Capacity Block for ML, paid upfront for its window (start to end); EC2 "
        "terminates its instances from 30 minutes before its end (Karpenter and EKS drain them 10 minutes earlier).",
    )
    ids: list[CapacityReservationId] = Field(
        default_factory=list, max_length=30,
        description="The reservations' ids (cr-...). A node group pool names exactly one (its launch template "
        "targets it); a Karpenter pool any number.",
    )
    tags: Optional[Annotated[dict[str, str], AfterValidator(_reservation_tags)]] = Field(
        None, max_length=20,
        description=f"Tags that select the reservations instead of ids ('*' matches any value); provisioner "
        f"{KARPENTER} only.",
    )
    availability_zone: Optional[str] = Field(
        None,
        description=f"The reservations' zone (they are zonal), one of cluster.vpc.availabilityZones: the pool's "
        f"nodes launch in that zone's private subnet only. Required for provisioner {NODEGROUP}; {KARPENTER} reads "
        "the zone from the reservations when it is unset.",
    )
    subnet_ids: list[str] = Field(
        default_factory=list,
        description="With an existing VPC (cluster.vpc.subnetIds), instead of availabilityZone: those of its subnets "
        "that lie in the reservations' zone; the pool's nodes launch there only.",
    )
    instances: int = Field(
        ge=1, le=MAX_NODES_PER_POOL,
        description="Instances the reservations hold: what the plan prices (paid whether used or not) and the most "
        "nodes the pool may have (maxSize).",
    )
    start: Optional[Timestamp] = Field(None, description=f"A {CAPACITY_BLOCK}'s start (UTC, e.g. 2027-01-04T11:30:00Z).")
    end: Optional[Timestamp] = Field(
        None, description=f"When the reservation ends: required for a {CAPACITY_BLOCK}; an {ODCR} may have one."
    )
    hourly_price: Optional[float] = Field(
        None, gt=0, le=10_000,
        description=f"Price per instance-hour. Default: the facts' on-demand price for an {ODCR}; a "
        f"{CAPACITY_BLOCK}'s price is set at purchase (its upfront fee over its hours), unknown to the plan unless "
        "given here.",
    )
    warn_days_before_end: int = Field(
        14, ge=0, le=365,
        description="The plan warns this many days before the end while a tenant's quota depends on the pool.",
    )

    @property
    def window_hours(self) -> Optional[float]:
        """The window's length in hours; None without both ends."""
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds() / 3600

    def errors(self, where: str) -> list[tuple[str, str]]:
        """What the reservation's own fields say wrong together, each at its field's path."""
        errors = []
        if bool(self.ids) == (self.tags is not None):
            errors.append((f"{where}.ids", "name the reservations by ids or by tags (exactly one of them)"))
        errors += _duplicates_of(f"{where}.ids", self.ids)
        if self.type == CAPACITY_BLOCK:
            errors += [(f"{where}.{field}", f"required for a {CAPACITY_BLOCK}: its window is start to end")
                       for field, value in (("start", self.start), ("end", self.end)) if value is None]
            if self.end is not None and self.end.time() != CAPACITY_BLOCK_END:
                errors.append((f"{where}.end", f"{self.end.isoformat()}, but every Capacity Block ends at "
                               f"{CAPACITY_BLOCK_END:%H:%M} UTC (EC2 user guide, Capacity Blocks for ML)"))
        if self.start is not None and self.end is not None and self.end <= self.start:
            errors.append((f"{where}.end", f"{self.end.isoformat()} is not after start {self.start.isoformat()}"))
        return errors


class SizedPool(SpecModel):
    """A node group's sizes: minSize <= desiredSize (default minSize) <= maxSize; subclasses declare them."""

    SMALLEST: ClassVar[int] = 0

    @property
    def desired(self) -> int:
        return self.min_size if self.desired_size is None else self.desired_size

    @model_validator(mode="after")
    def _sizes(self) -> "SizedPool":
        if not self.min_size <= self.desired <= self.max_size:
            raise ValueError(
                f"sizes must satisfy {self.SMALLEST} <= minSize <= desiredSize <= maxSize, "
                f"got {self.min_size} <= {self.desired} <= {self.max_size}"
            )
        return self


class NodePoolSpec(SizedPool):
    name: Annotated[DnsLabel, AfterValidator(_pool_name)] = Field(
        description=f"Pool name, unique; label gpufleet.io/pool. Not '{SYSTEM_POOL}' (the system pool's)."
    )
    instance_types: list[GpuInstanceType] = Field(
        min_length=1,
        description="GPU instance types; several diversify spot capacity. One GPU model per pool. Known types: "
        + ", ".join(sorted(load_facts().instance_types))
        + ".",
    )
    capacity: Literal[CAPACITIES] = Field(
        ON_DEMAND,
        description="EC2 capacity type. reserved: the pool launches only into the capacity reservations it names "
        "(reservation).",
    )
    reservation: Optional[ReservationSpec] = Field(
        None, description="The capacity reservations or Capacity Block of a pool with capacity reserved."
    )
    workload: Literal["inference", "training", "batch", "dev"] = Field(
        "batch", description="What the pool is for; label gpufleet.io/workload."
    )
    min_size: int = Field(0, ge=0, le=MAX_NODES_PER_POOL, description="Fewest nodes.")
    desired_size: Optional[int] = Field(
        None, ge=0, le=MAX_NODES_PER_POOL, description="Nodes at creation (default minSize); an autoscaler owns it afterwards."
    )
    max_size: int = Field(
        1, ge=1, le=MAX_NODES_PER_POOL, description=f"Most nodes (at most {MAX_NODES_PER_POOL}, EKS's nodes per managed node group)."
    )
    provisioner: Optional[Literal[PROVISIONERS]] = Field(
        None,
        description=f"What launches the pool's nodes (cluster.mode eks). {KARPENTER}: a Karpenter NodePool; nodes are "
        "launched for pending pods, up to maxSize, and removed once empty (disruption); no node is kept warm, so "
        f"minSize must be 0. {NODEGROUP}: an EKS managed node group of minSize to maxSize nodes, created with "
        f"desiredSize. Default: {KARPENTER} when minSize is 0 and maxSize more (not for MIG's mixed strategy, whose "
        f"resources no instance type offers), else {NODEGROUP}. The program "
        f"deploys Karpenter (its controller on the system pool) when a pool is {KARPENTER} (README, Elastic pools).",
    )
    disruption: Optional[DisruptionSpec] = Field(
        None, description=f"When Karpenter removes the pool's nodes (provisioner {KARPENTER} only; defaults apply)."
    )
    driver_version: Optional[DriverVersion] = Field(None, description="Overrides drivers.version for this pool.")
    sharing: SharingSpec = Field(default_factory=SharingSpec, description="GPU sharing for the pool's nodes.")
    efa: bool = Field(False, description="Attach EFA interfaces and a cluster placement group.")
    cpu_alignment: Optional[CpuAlignmentSpec] = Field(
        None,
        description="CPU and NUMA alignment for latency-sensitive serving: the static CPU manager and a topology "
        "manager policy on the pool's kubelets. Tenants request whole CPUs with requests equal to limits "
        "(Guaranteed QoS) there; the placement guide says so.",
    )
    instance_store: Optional[Literal["raid0"]] = Field(
        None,
        description="raid0: the instance's NVMe instance-store disks as one RAID0 volume holding the kubelet's and "
        "containerd's state and the pod logs (datasets, image layers), built at boot before the kubelet starts: by "
        "nodeadm on AL2023 (NodeConfig localStorage RAID0), by the instance_store role on Ubuntu. Pools whose every "
        "instance type has instance storage. Its contents do not survive a stop.",
    )
    disk_gib: int = Field(200, ge=20, le=16384, alias="diskGiB", description="Encrypted gp3 root volume size.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="Extra node labels: Kubernetes label keys and values (values at most 63 characters); not "
        "gpufleet.io/* or the NVIDIA labels the fleet sets, and in kubernetes.io/k8s.io only what the kubelet may set.",
    )
    taints: list[TaintSpec] = Field(default_factory=list, description="Extra taints besides the GPU/spot ones.")
    os: NodeOs = Field(
        "al2023",
        description="Node operating system. al2023: an EKS AMI type, booted by nodeadm. ubuntu-22.04, ubuntu-24.04: "
        "Canonical's EKS AMI given as amiId, booted by cloud-init; on eks clusters needs drivers.install ansible "
        "(the EKS NVIDIA AMI is AL2023).",
    )
    ami_id: Optional[AmiId] = Field(
        None,
        description="Canonical's EKS-optimized Ubuntu AMI (matching os, the cluster's kubernetesVersion and the "
        "region), e.g. ami-0123456789abcdef0, set as the launch template's image. Only valid when os is ubuntu-22.04 "
        "or ubuntu-24.04, and then required when cluster.mode is eks.",
    )


    def catalog(self) -> list[InstanceType]:
        facts = load_facts()
        return [facts.instance_types[name] for name in self.instance_types]


class SystemPoolSpec(SizedPool):
    SMALLEST: ClassVar[int] = 1

    enabled: Optional[bool] = Field(
        None,
        description="Create the pool. Default: on EKS clusters the fleet creates; an existing cluster brings its own "
        "nodes for cluster services (true is refused there).",
    )
    instance_types: list[SystemInstanceType] = Field(
        default_factory=lambda: ["m6i.large"], min_length=1, description="Non-GPU EC2 instance types, on-demand."
    )
    min_size: int = Field(2, ge=1, le=MAX_NODES_PER_POOL, description="Fewest nodes (two keep CoreDNS's replicas apart).")
    desired_size: Optional[int] = Field(None, ge=1, le=MAX_NODES_PER_POOL, description="Nodes at creation (default minSize).")
    max_size: int = Field(3, ge=1, le=MAX_NODES_PER_POOL, description="Most nodes.")
    disk_gib: int = Field(50, ge=20, le=16384, alias="diskGiB", description="Encrypted gp3 root volume size.")



# --- tenants ---------------------------------------------------------------------------


class AccessSpec(SpecModel):
    admins: list[Principal] = Field(
        default_factory=list,
        description="Bound in the namespace to ClusterRole gpufleet-tenant-admin (workloads, Secrets, RoleBindings; "
        "NetworkPolicies, quotas and limit ranges read-only).",
    )
    editors: list[Principal] = Field(
        default_factory=list,
        description="Bound to gpufleet-tenant-edit (workloads and Secrets; NetworkPolicies, quotas, limit ranges read-only).",
    )
    viewers: list[Principal] = Field(
        default_factory=list, description="Bound to the built-in view (read-only, no Secrets)."
    )


class TenantQueueSpec(SpecModel):
    """How a tenant's ClusterQueue shares GPUs in its cohort (README, "Fair sharing between tenants")."""

    borrowing_limit: Optional[int] = Field(
        None, ge=0, le=MAX_GPU_QUOTA,
        description="GPU units the tenant may borrow beyond its nominal quota, in each of its pools; unset: up to "
        "what its cohort has idle. Borrowed GPUs are reclaimed (preempted) when their owner needs them.",
    )
    lending_limit: Optional[int] = Field(
        None, ge=0, le=MAX_GPU_QUOTA,
        description="GPU units of its nominal quota in each pool that other tenants may borrow while it is idle; "
        "unset: all of them. The rest stays free for the tenant's own workloads.",
    )
    weight: float = Field(
        1.0, gt=0, le=1000,
        description="Fair-sharing weight: a tenant of weight 2 gets twice the share of borrowed GPUs of a tenant "
        "of weight 1 before its workloads are preempted.",
    )


class TenantSpec(SpecModel):
    name: TenantName = Field(
        description="Tenant and namespace name, unique; not default, kube-system, kube-public, kube-node-lease "
        "or gpu-system."
    )
    gpu_quota: int = Field(
        ge=0, le=MAX_GPU_QUOTA, description="requests.nvidia.com/gpu in the namespace's ResourceQuota."
    )
    cpu_quota: Optional[Quantity] = Field(None, description="requests.cpu quota (e.g. 64).")
    memory_quota: Optional[Quantity] = Field(None, description="requests.memory quota (e.g. 256Gi).")
    pools: list[DnsLabel] = Field(min_length=1, description="Node pools the tenant's GPU pods may use.")
    cuda_versions: list[CudaVersion] = Field(
        default_factory=list, description="CUDA versions of the tenant's images (checked against pool drivers)."
    )
    priority: Literal["critical", "standard", "batch"] = Field("standard", description="Default priority class.")
    isolation: Literal["shared", "dedicated"] = Field(
        "shared", description="dedicated: the tenant's pools are tainted for it and no other tenant may use them."
    )
    access: AccessSpec = Field(default_factory=AccessSpec, description="Principals and their namespace roles.")
    queue: TenantQueueSpec = Field(
        default_factory=TenantQueueSpec,
        description="Fair sharing of the tenant's GPUs with the other tenants of its pools (with queues.enabled).",
    )


# --- monitoring and device plugin ------------------------------------------------------


class AlertsSpec(SpecModel):
    gpu_temperature_celsius: int = Field(85, ge=40, le=110, description="Alert above this GPU temperature.")
    idle_minutes: int = Field(30, ge=1, le=10080, description="Alert when an allocated GPU is idle this long (at most a week).")
    memory_used_ratio: float = Field(0.95, gt=0, le=1, description="Alert above this framebuffer use.")


class MonitoringSpec(SpecModel):
    dcgm_exporter: bool = Field(True, description="Deploy dcgm-exporter on GPU nodes.")
    service_monitor: bool = Field(True, description="ServiceMonitor + PrometheusRule (Prometheus Operator CRDs).")
    exporter_version: ImageTag = Field(
        default_factory=lambda: load_facts().software.dcgm_exporter_version, description="dcgm-exporter image tag."
    )
    alerts: AlertsSpec = Field(default_factory=AlertsSpec, description="Alert thresholds.")


class DevicePluginSpec(SpecModel):
    version: ImageTag = Field(
        default_factory=lambda: load_facts().software.device_plugin_version, description="k8s-device-plugin tag."
    )
    gpu_feature_discovery: bool = Field(False, description="Also deploy GPU Feature Discovery.")


# --- cost estimates --------------------------------------------------------------------


class CostSpec(SpecModel):
    spot_discount: Optional[float] = Field(
        None,
        ge=0,
        lt=1,
        description="Estimated spot discount off on-demand (0.6: spot costs 40% of on-demand) used by plan "
        "cost estimates; default: the facts file's spot_discount_estimate.",
    )


# --- the whole fleet -------------------------------------------------------------------


class QueuesSpec(SpecModel):
    enabled: bool = Field(
        False,
        description="Deploy Kueue on the system pool and queue every tenant's GPU Jobs: nominal quotas, borrowing "
        "between the tenants of a pool and preemption (off: the namespace ResourceQuota alone).",
    )
    require_queue_name: bool = Field(
        True,
        description="Admission refuses a Job that requests GPUs in a tenant namespace without the "
        "kueue.x-k8s.io/queue-name label (with enabled).",
    )


class FleetSpec(SpecModel):
    cluster: ClusterSpec
    drivers: DriversSpec = Field(default_factory=DriversSpec)
    node_pools: list[NodePoolSpec] = Field(min_length=1)
    system_pool: SystemPoolSpec = Field(
        default_factory=SystemPoolSpec,
        description="The non-GPU, on-demand pool for cluster services: CoreDNS (which tolerates no GPU taint) and the "
        "fleet's controllers. The EKS add-ons are created after it.",
    )
    tenants: list[TenantSpec] = Field(default_factory=list)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    device_plugin: DevicePluginSpec = Field(default_factory=DevicePluginSpec)
    cost: CostSpec = Field(default_factory=CostSpec, description="Assumptions of the plan's cost estimates.")
    queues: QueuesSpec = Field(
        default_factory=QueuesSpec, description="Fair-sharing queues (Kueue) for the tenants' GPU Jobs."
    )

    def pool(self, name: str) -> NodePoolSpec:
        return next(p for p in self.node_pools if p.name == name)

    def provisioner(self, pool: NodePoolSpec) -> Optional[str]:
        """What launches the pool's nodes; None on an existing cluster (they exist already)."""
        if self.cluster.mode != "eks":
            return None
        if pool.provisioner is not None:
            return pool.provisioner
        elastic = pool.min_size == 0 < pool.max_size
        return KARPENTER if elastic and not _advertises_unknown_resources(pool) else NODEGROUP

    @property
    def system_pool_enabled(self) -> bool:
        enabled = self.system_pool.enabled
        return self.cluster.mode == "eks" if enabled is None else enabled

    @functools.cached_property
    def _dedicated_owners(self) -> dict[str, TenantSpec]:
        """Pool name -> the dedicated tenant that owns it: the first one (cross_field_errors reports the others)."""
        owners: dict[str, TenantSpec] = {}
        for tenant in self.tenants:
            if tenant.isolation == "dedicated":
                for name in tenant.pools:
                    owners.setdefault(name, tenant)
        return owners

    def dedicated_tenant(self, pool_name: str) -> Optional[TenantSpec]:
        return self._dedicated_owners.get(pool_name)


def cross_field_errors(spec: FleetSpec) -> list[tuple[str, str]]:
    """Rules that span objects, as (config path, message) pairs; empty when the spec is sound."""
    errors: list[tuple[str, str]] = []
    errors += _duplicates("nodePools", [p.name for p in spec.node_pools])
    errors += _duplicates("tenants", [t.name for t in spec.tenants])
    errors += _aws_name_errors(spec)
    if spec.cluster.mode != "eks" and spec.system_pool.enabled:
        errors.append(("systemPool.enabled", "an existing cluster brings its own nodes for cluster services: gpu-fleet "
                       "creates no node group there (leave it unset or false)"))
    for i, pool in enumerate(spec.node_pools):
        where = f"nodePools[{i}]"
        catalog = pool.catalog()
        models = sorted({t.gpu.model for t in catalog})
        if len(models) > 1:
            errors.append((f"{where}.instanceTypes", f"pool mixes GPU models {', '.join(models)}; a pool has one GPU model"))
        errors += _os_errors(spec, pool, where)
        errors += _provisioner_errors(spec, pool, where)
        errors += _reservation_errors(spec, pool, where)
        if pool.instance_store is not None:
            errors += [(f"{where}.instanceTypes[{j}]", f"'{t.name}' has no NVMe instance storage (instanceStore: "
                        f"{pool.instance_store})") for j, t in enumerate(catalog) if not t.instance_store]
        if pool.os in UBUNTU_OS and pool.cpu_alignment is not None and pool.cpu_alignment.reserved_cpus is not None:
            errors.append((f"{where}.cpuAlignment.reservedCpus", "AL2023 pools only: on Ubuntu the static CPU manager "
                           "reserves the CPUs bootstrap.sh sets aside for the kubelet (leave reservedCpus unset)"))
        if not spec.drivers.open_kernel_modules:
            errors += [
                ("drivers.openKernelModules", f"false, but pool '{pool.name}' has {model} GPUs ({arch}), which only "
                 "NVIDIA's open kernel modules support: set it to true")
                for model, arch in sorted({(t.gpu.model, t.gpu.architecture.name) for t in catalog
                                           if t.gpu.architecture.requires_open_kernel_modules})
            ]
        if pool.efa:
            for j, itype in enumerate(catalog):
                if not itype.efa:
                    errors.append((f"{where}.instanceTypes[{j}]", f"'{itype.name}' does not support EFA (efa: true)"))
    pool_names = {p.name for p in spec.node_pools}
    for i, tenant in enumerate(spec.tenants):
        for j, pool_name in enumerate(tenant.pools):
            owner = spec.dedicated_tenant(pool_name)
            if pool_name not in pool_names:
                errors.append((f"tenants[{i}].pools[{j}]", f"unknown node pool '{pool_name}'"))
            elif owner is not None and owner.name != tenant.name:
                errors.append((f"tenants[{i}].pools[{j}]", f"pool '{pool_name}' is dedicated to tenant '{owner.name}'"))
    return errors


def _aws_name_errors(spec: FleetSpec) -> list[tuple[str, str]]:
    """AWS names derived from the cluster and pool names, with Pulumi's auto-name suffix, must fit AWS's limits."""
    if spec.cluster.mode != "eks":
        return []
    errors = []
    bucket = len(playbook_bucket_name(spec.cluster.name)) + AUTONAME_SUFFIX_LENGTH
    if bucket > S3_BUCKET_NAME_MAX:
        errors.append(
            ("cluster.name", f"{shown(spec.cluster.name)} is too long: the playbook bucket's name would have {bucket} "
             f"characters, S3 allows {S3_BUCKET_NAME_MAX} (use at most "
             f"{S3_BUCKET_NAME_MAX - bucket + len(spec.cluster.name)})")
        )
    for i, pool in enumerate(spec.node_pools):
        role = len(node_pool_name(spec.cluster.name, pool.name) + NODE_ROLE_SUFFIX) + AUTONAME_SUFFIX_LENGTH
        if role > IAM_ROLE_NAME_MAX:
            errors.append(
                (f"nodePools[{i}].name", f"{shown(pool.name)} is too long with cluster name {shown(spec.cluster.name)}: the "
                 f"node role's name would have {role} characters, IAM allows {IAM_ROLE_NAME_MAX}")
            )
    if any(spec.provisioner(pool) == KARPENTER for pool in spec.node_pools):
        karpenter_role = max(len(karpenter_name(spec.cluster.name) + suffix) for suffix in KARPENTER_ROLE_SUFFIXES)
        if karpenter_role + AUTONAME_SUFFIX_LENGTH > IAM_ROLE_NAME_MAX:
            errors.append(
                ("cluster.name", f"{shown(spec.cluster.name)} is too long: Karpenter's IAM role names would have "
                 f"{karpenter_role + AUTONAME_SUFFIX_LENGTH} characters, IAM allows {IAM_ROLE_NAME_MAX}")
            )
        if len(spec.cluster.name) > SQS_QUEUE_NAME_MAX:
            errors.append(
                ("cluster.name", f"{shown(spec.cluster.name)} is too long: Karpenter's interruption queue is named as "
                 f"the cluster, and SQS allows {SQS_QUEUE_NAME_MAX} characters")
            )
    system_role = len(node_pool_name(spec.cluster.name, SYSTEM_POOL) + NODE_ROLE_SUFFIX) + AUTONAME_SUFFIX_LENGTH
    if spec.system_pool_enabled and system_role > IAM_ROLE_NAME_MAX:
        errors.append(
            ("cluster.name", f"{shown(spec.cluster.name)} is too long: the system pool's node role name would have "
             f"{system_role} characters, IAM allows {IAM_ROLE_NAME_MAX}")
        )
    return errors


def _os_errors(spec: FleetSpec, pool: NodePoolSpec, where: str) -> list[tuple[str, str]]:
    if pool.os not in UBUNTU_OS:
        if pool.ami_id is not None:
            return [(f"{where}.amiId", f"only valid when os is {' or '.join(UBUNTU_OS)}, got os '{pool.os}'")]
        return []
    if spec.cluster.mode != "eks":
        return []  # an existing cluster's nodes: nothing is launched, no AMI is chosen
    errors = []
    if pool.ami_id is None:
        errors.append(
            (f"{where}.amiId", f"required when os is '{pool.os}': Canonical's EKS Ubuntu AMI for Kubernetes "
             f"{spec.cluster.kubernetes_version} in the stack's region (EKS has no managed AMI type for Ubuntu)")
        )
    if spec.drivers.install == "ami":
        errors.append(
            (f"{where}.os", f"'{pool.os}' needs drivers.install ansible: install ami means the EKS NVIDIA AMI, "
             "which is Amazon Linux 2023 (use os al2023)")
        )
    return errors


def _advertises_unknown_resources(pool: NodePoolSpec) -> bool:
    """Whether the pool's nodes advertise GPU resources no instance type has: MIG's mixed strategy makes them
    nvidia.com/mig-<profile>, which Karpenter's instance types (EC2's GPUs as nvidia.com/gpu) never offer, so it
    would launch no node for the pods that request them."""
    return pool.sharing.mode == "mig" and pool.sharing.effective_mig_strategy == "mixed"


def _provisioner_errors(spec: FleetSpec, pool: NodePoolSpec, where: str) -> list[tuple[str, str]]:
    provisioner = spec.provisioner(pool)
    if pool.provisioner == KARPENTER and provisioner is None:
        return [(f"{where}.provisioner", f"'{KARPENTER}' needs cluster.mode eks: the program deploys Karpenter with "
                 "the cluster it creates (an existing cluster's nodes exist already)")]
    if provisioner != KARPENTER:
        if pool.disruption is not None:
            return [(f"{where}.disruption", f"only valid when the pool's provisioner is '{KARPENTER}'")]
        return []
    errors = []
    if _advertises_unknown_resources(pool):
        errors.append((f"{where}.provisioner", f"'{KARPENTER}' launches nodes for the resources pods request, and no "
                       "instance type offers nvidia.com/mig-* (sharing.migStrategy mixed): use provisioner "
                       f"'{NODEGROUP}' or migStrategy single"))
    if not spec.system_pool_enabled:
        errors.append((f"{where}.provisioner", f"'{KARPENTER}' needs the system pool (systemPool.enabled): the "
                       "Karpenter controller runs on nodes it does not launch"))
    amis = load_facts().eks_amis
    if spec.cluster.kubernetes_version not in amis.kubernetes_versions:
        errors.append((f"{where}.provisioner", f"'{KARPENTER}' pools boot the EKS AMI release {amis.release}, built "
                       f"for Kubernetes {', '.join(amis.kubernetes_versions)}; cluster.kubernetesVersion is "
                       f"{spec.cluster.kubernetes_version}"))
    if pool.min_size > 0:
        errors.append((f"{where}.minSize", f"{pool.min_size}, but Karpenter keeps no node warm: a '{KARPENTER}' pool "
                       f"has minSize 0 (use provisioner '{NODEGROUP}' for a floor of nodes)"))
    if pool.desired_size:
        errors.append((f"{where}.desiredSize", f"{pool.desired_size}, but Karpenter launches nodes for pending pods: "
                       f"a '{KARPENTER}' pool has no desiredSize"))
    return errors


def _reservation_errors(spec: FleetSpec, pool: NodePoolSpec, where: str) -> list[tuple[str, str]]:
    reservation = pool.reservation
    if pool.capacity != RESERVED:
        if reservation is not None:
            return [(f"{where}.reservation", f"only valid with capacity {RESERVED}, got capacity '{pool.capacity}'")]
        return []
    if reservation is None:
        return [(f"{where}.reservation", f"required with capacity {RESERVED}: the capacity reservations (ids or tags) "
                 f"or the {CAPACITY_BLOCK} the pool launches into")]
    errors = reservation.errors(f"{where}.reservation")
    if pool.max_size > reservation.instances:
        errors.append((f"{where}.maxSize", f"{pool.max_size}, but the reservations hold {reservation.instances} "
                       "instances (reservation.instances): a reserved pool launches into them only"))
    node_group = spec.provisioner(pool) == NODEGROUP
    if (reservation.type == CAPACITY_BLOCK or node_group) and len(pool.instance_types) > 1:
        holder = f"a {CAPACITY_BLOCK}" if reservation.type == CAPACITY_BLOCK else "the one reservation a node group targets"
        errors.append((f"{where}.instanceTypes", f"{holder} holds one instance type, got {len(pool.instance_types)}"))
    errors += _zone_errors(spec, reservation, where, required=node_group)
    if node_group:
        if reservation.tags is not None:
            errors.append((f"{where}.reservation.tags", f"a node group's launch template targets one reservation by "
                           f"id: tags select reservations for provisioner {KARPENTER} only"))
        elif len(reservation.ids) > 1:
            errors.append((f"{where}.reservation.ids", f"a node group's launch template targets one reservation, got "
                           f"{len(reservation.ids)} (provisioner {KARPENTER} launches into several)"))
    return errors


def _zone_errors(spec: FleetSpec, reservation: ReservationSpec, where: str, required: bool) -> list[tuple[str, str]]:
    """Where a reserved pool launches: its reservations' zone only (EKS user guide, capacity-blocks-mng: "only
    specify the subnet in the same Availability Zone as the capacity reservation"), named as a zone of the VPC the
    fleet creates or as subnets of an existing one; required of a node group (Karpenter finds the zone itself)."""
    vpc = spec.cluster.vpc
    zone, subnets = reservation.availability_zone, reservation.subnet_ids
    if vpc is None:  # an existing cluster's nodes: nothing is launched anywhere
        return [(f"{where}.reservation.{field}", "only valid when cluster.mode is eks (the fleet launches the nodes)")
                for field, given in (("availabilityZone", zone), ("subnetIds", subnets)) if given]
    if isinstance(vpc, NewVpc):
        if subnets:
            return [(f"{where}.reservation.subnetIds", "only valid with an existing VPC (cluster.vpc.subnetIds): name "
                     "the zone (reservation.availabilityZone)")]
        if zone is None:
            return [(f"{where}.reservation.availabilityZone", f"required for provisioner {NODEGROUP}: the zone of the "
                     f"reservation, one of {', '.join(vpc.availability_zones)}")] if required else []
        if zone not in vpc.availability_zones:
            return [(f"{where}.reservation.availabilityZone", f"{shown(zone)} is not one of "
                     f"cluster.vpc.availabilityZones ({', '.join(vpc.availability_zones)})")]
        return []
    if zone is not None:
        return [(f"{where}.reservation.availabilityZone", "the subnets of an existing VPC have no zone here: name "
                 "those in the reservation's zone (reservation.subnetIds)")]
    if not subnets:
        return [(f"{where}.reservation.subnetIds", f"required for provisioner {NODEGROUP} with an existing VPC: those "
                 "of cluster.vpc.subnetIds in the reservation's zone")] if required else []
    return [(f"{where}.reservation.subnetIds[{i}]", f"{shown(subnet)} is not one of cluster.vpc.subnetIds")
            for i, subnet in enumerate(subnets) if subnet not in vpc.subnet_ids]


def _duplicates_of(where: str, values: list[str], noun: str = "") -> list[tuple[str, str]]:
    """(where[i], message) for each value that repeats an earlier one."""
    seen: set[str] = set()
    errors = []
    for i, value in enumerate(values):
        if value in seen:
            errors.append((f"{where}[{i}]", f"duplicate {noun}{shown(value)}"))
        seen.add(value)
    return errors


def _duplicates(where: str, names: list[str]) -> list[tuple[str, str]]:
    return [(f"{path}.name", message) for path, message in _duplicates_of(where, names, "name ")]
