"""GPU node pools and their machines: taints, capacity, instance metadata, volumes."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from pulumi_policy import EnforcementLevel, Severity

from core import names
from core.boot import kubelet_flags
from core.boot_reader import CLOUD_CONFIG_KEYS, NODEADM, NODEADM_PARTS, NodeBoot, read_user_data
from core.karpenter import UNREGISTERED_TAINT

from . import resource_types
from .builders import pool_policy, resource_policy, stack_policy
from .observed_fleet import KARPENTER_POOL, Fleet, Pool, tenant_pools
from .props import as_int, decode_user_data, get, has, items, pending, truthy
from .supply_chain import container_images, parse_image

MAX_HOP_LIMIT = 2


# --- gpu-nodes-tainted ------------------------------------------------------------------


def _gpu_tainted(pool: Pool) -> Iterable[str]:
    if not pool.is_gpu:
        return
    if not any(t.key == names.GPU_TAINT_KEY and t.effect == "NoSchedule" for t in pool.taints):
        yield (
            f"{pool.label} has GPUs but no {names.GPU_TAINT_KEY}:NoSchedule taint: add taint "
            f"{{key: {names.GPU_TAINT_KEY}, value: 'true', effect: NO_SCHEDULE}} so only GPU pods land there"
        )


gpu_nodes_tainted = pool_policy(
    name="gpu-nodes-tainted",
    description="Every GPU node pool carries the nvidia.com/gpu NoSchedule taint.",
    judge=_gpu_tainted,
    severity=Severity.MEDIUM,
    remediation_steps="Taint every GPU node group with nvidia.com/gpu=true:NoSchedule (EKS: NO_SCHEDULE); GPU pods tolerate it.",
)


# --- spot-pools-tainted -----------------------------------------------------------------


def is_spot_taint(key: str, value: str) -> bool:
    return (key == names.SPOT_TAINT_KEY and value == names.SPOT) or names.SPOT in key.lower() or value.lower() == names.SPOT


def _spot_tainted(pool: Pool) -> Iterable[str]:
    if pool.capacity != names.SPOT:
        return
    if not any(is_spot_taint(t.key, t.value) and t.effect in ("NoSchedule", "NoExecute") for t in pool.taints):
        yield (
            f"{pool.label} is spot capacity but carries no spot taint: add taint "
            f"{{key: {names.SPOT_TAINT_KEY}, value: spot, effect: NO_SCHEDULE}} so only interruption-tolerant pods land there"
        )


spot_pools_tainted = pool_policy(
    name="spot-pools-tainted",
    description="Every spot node pool carries a spot taint (gpufleet.io/capacity=spot:NoSchedule or another key/value naming spot).",
    judge=_spot_tainted,
    severity=Severity.MEDIUM,
    remediation_steps="Taint spot node groups with gpufleet.io/capacity=spot:NoSchedule; pods that tolerate interruption tolerate it.",
)


# --- no-inference-on-spot ---------------------------------------------------------------


def _check_no_inference_on_spot(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    for pool in fleet.pools.values():
        if pool.workload == "inference" and pool.capacity == names.SPOT:
            yield pool.urn, f"{pool.label} serves inference on spot capacity: set capacity: on-demand (spot nodes get a 2-minute notice)"
    for tenant in fleet.tenants:
        if tenant.priority != "critical":
            continue
        for pool in tenant_pools(fleet, tenant):
            if pool.capacity == names.SPOT:
                yield tenant.urn, (
                    f"critical tenant '{tenant.name}' may use spot {pool.label}: remove the pool from the tenant's pools "
                    f"or lower its priority to standard/batch"
                )


no_inference_on_spot = stack_policy(
    name="no-inference-on-spot",
    description="Inference pools and critical tenants are on on-demand capacity only.",
    check=_check_no_inference_on_spot,
    severity=Severity.HIGH,
    remediation_steps="Make inference pools on-demand; give critical tenants on-demand pools only.",
)


# --- node-groups-scaled ----------------------------------------------------------------

# What resizes a managed node group between its minSize and maxSize: the Kubernetes cluster autoscaler
# (kubernetes/autoscaler, image registry.k8s.io/autoscaling/cluster-autoscaler). Karpenter launches nodes of its
# own NodePools and never changes a node group's desired size.
NODE_GROUP_AUTOSCALER_IMAGE = "autoscaling/cluster-autoscaler"


def _scales_node_groups(fleet: Fleet) -> bool:
    return any(parse_image(image).repository.endswith(NODE_GROUP_AUTOSCALER_IMAGE)
               for r in fleet.of_type(resource_types.DEPLOYMENT) for _, image in container_images(r.resource_type, r.props))


def _check_node_groups_scaled(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    if _scales_node_groups(fleet):
        return
    for pool in fleet.pools.values():
        if not (pool.is_gpu and pool.source == "nodegroup" and pool.min_size is not None and pool.max_size is not None
                and pool.min_size < pool.max_size):
            continue
        yield pool.urn, (f"{pool.label} may hold {pool.min_size} to {pool.max_size} nodes, but nothing in the stack "
                         "resizes node groups: it keeps its desired size; for an elastic pool use provisioner: "
                         "karpenter (minSize 0), for a fixed one set minSize = maxSize, or run the cluster autoscaler")


node_groups_scaled = stack_policy(
    name="node-groups-scaled",
    description="A managed node group that may grow (minSize < maxSize) has something that resizes it.",
    check=_check_node_groups_scaled,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps="Make elastic pools Karpenter pools (provisioner: karpenter, minSize 0), give fixed pools "
    "minSize = maxSize, or run the cluster autoscaler for the node groups.",
)


# --- spot-pools-diversified -------------------------------------------------------------


def _spot_diversified(pool: Pool) -> Iterable[str]:
    # A NodePool that names no instance type may launch any: diversified by construction.
    if pool.capacity != names.SPOT or len(pool.instance_types) != 1:
        return
    yield (
        f"{pool.label} is spot capacity of one instance type ({pool.instance_types[0]}): an interruption or a "
        "shortage of that one spot pool leaves it empty; list several types of the same GPU (instanceTypes) so the "
        "price-capacity-optimized allocation can pick the deepest pools"
    )


spot_pools_diversified = pool_policy(
    name="spot-pools-diversified",
    description="Every spot pool lists several instance types (both provisioners launch spot price-capacity-optimized "
    "across them).",
    judge=_spot_diversified,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps="List two or more instance types of the pool's GPU model in the spot pool's instanceTypes.",
)


# --- reserved-pools-unplaced ------------------------------------------------------------


def _check_reserved_unplaced(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    if resource_type == resource_types.EC2_NODE_CLASS:
        spec = get(props, "spec")
        if items(spec, "capacityReservationSelectorTerms") and has(spec, "placementGroupSelector"):
            yield ("the node class launches into capacity reservations (capacityReservationSelectorTerms) and a "
                   "placement group (placementGroupSelector): a placement group the reservation was not made in fails "
                   "its launches with InsufficientInstanceCapacity; remove placementGroupSelector")
        return
    target = get(props, "capacityReservationSpecification", "capacityReservationTarget")
    placement = get(props, "placement")
    if target is not None and (has(placement, "groupName") or has(placement, "groupId")):
        yield ("the launch template targets a capacity reservation and a placement group (placement): a "
               "placement group the reservation was not made in fails its launches with InsufficientInstanceCapacity; "
               "remove placement")


reserved_pools_unplaced = resource_policy(
    name="reserved-pools-unplaced",
    description="A launch template or Karpenter node class that launches into capacity reservations names no placement "
    "group (terraform-aws-modules/terraform-aws-eks PR 3730).",
    types=[resource_types.LAUNCH_TEMPLATE, resource_types.EC2_NODE_CLASS],
    check=_check_reserved_unplaced,
    severity=Severity.HIGH,
    remediation_steps="Drop the placement group of reserved pools: the reservation fixes where the instances run.",
)


# --- imdsv2-required --------------------------------------------------------------------


def _launch_settings(resource_type: str, props: Any) -> Any:
    """Where a resource holds metadataOptions and blockDeviceMappings: an EC2NodeClass in its spec, with the same
    field names as a launch template (karpenter-provider-aws pkg/apis/v1/ec2nodeclass.go)."""
    return get(props, "spec") if resource_type == resource_types.EC2_NODE_CLASS else props


def _check_imdsv2(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    node_class = resource_type == resource_types.EC2_NODE_CLASS
    props = _launch_settings(resource_type, props)
    metadata = get(props, "metadataOptions")
    if metadata is None:
        # An EC2NodeClass without metadataOptions gets the CRD's default: IMDSv2 only, hop limit 1.
        if pending(props, "metadataOptions") or node_class:
            return
        yield "metadataOptions is not set (IMDSv1 allowed): set httpTokens: required and httpPutResponseHopLimit: 2"
        return
    tokens = get(metadata, "httpTokens")
    if tokens is not None and tokens != "required":
        yield f"metadataOptions.httpTokens is '{tokens}': set it to 'required' (IMDSv2 only)"
    elif tokens is None and not has(metadata, "httpTokens") and not node_class:
        yield "metadataOptions.httpTokens is not set (defaults to optional): set it to 'required'"
    hops = get(metadata, "httpPutResponseHopLimit")
    if hops is None and not has(metadata, "httpPutResponseHopLimit") and not node_class:
        yield f"metadataOptions.httpPutResponseHopLimit is not set: set it to {MAX_HOP_LIMIT} or less"
    elif as_int(hops) is not None and as_int(hops) > MAX_HOP_LIMIT:
        yield f"metadataOptions.httpPutResponseHopLimit is {as_int(hops)}: set it to {MAX_HOP_LIMIT} or less so containers cannot relay IMDS"


imdsv2_required = resource_policy(
    name="imdsv2-required",
    description="Launch templates, Karpenter node classes (and instances) require IMDSv2 with a hop limit of at most 2.",
    types=[resource_types.LAUNCH_TEMPLATE, resource_types.EC2_NODE_CLASS, resource_types.EC2_INSTANCE],
    check=_check_imdsv2,
    severity=Severity.HIGH,
    remediation_steps="Set metadataOptions {httpEndpoint: enabled, httpTokens: required, httpPutResponseHopLimit: 2}.",
)


# --- ebs-encrypted ----------------------------------------------------------------------


def _check_ebs(resource_type: str, props: Any, urn: str, name: str, opts: Mapping[str, Any]) -> Iterable[str]:
    if resource_type == resource_types.EBS_VOLUME:
        if not pending(props, "encrypted") and truthy(get(props, "encrypted")) is not True:
            yield "volume is not encrypted: set encrypted: true"
        return
    if resource_type == resource_types.EC2_INSTANCE:
        root = get(props, "rootBlockDevice")
        if root is None:
            if not has(props, "rootBlockDevice"):
                yield "rootBlockDevice is not set: declare it with encrypted: true"
            return
        value = get(root, "encrypted")
        if pending(root, "encrypted"):
            return  # unknown during preview
        if truthy(value) is not True:
            yield "rootBlockDevice.encrypted is not true: set encrypted: true"
        return
    props = _launch_settings(resource_type, props)
    mappings = get(props, "blockDeviceMappings")
    if mappings is None and not has(props, "blockDeviceMappings"):
        yield "no blockDeviceMappings: declare the root volume with ebs.encrypted: true (the AMI default may be unencrypted)"
        return
    for i, mapping in enumerate(items(props, "blockDeviceMappings")):
        ebs = get(mapping, "ebs")
        if ebs is None:
            continue  # instance store or unknown
        value = get(ebs, "encrypted")
        if pending(ebs, "encrypted"):
            continue  # unknown during preview
        if truthy(value) is not True:
            device = get(mapping, "deviceName") or f"#{i}"
            yield f"blockDeviceMappings[{i}] ({device}) is not encrypted: set ebs.encrypted: 'true'"


ebs_encrypted = resource_policy(
    name="ebs-encrypted",
    description="Node volumes are encrypted (launch template and Karpenter node class block device mappings, instance "
    "root volumes, EBS volumes).",
    types=[resource_types.LAUNCH_TEMPLATE, resource_types.EC2_NODE_CLASS, resource_types.EC2_INSTANCE,
           resource_types.EBS_VOLUME],
    check=_check_ebs,
    severity=Severity.HIGH,
    remediation_steps="Set ebs.encrypted: 'true' on every launch template block device mapping (optionally kmsKeyId).",
)


# --- node-user-data-matches-pool --------------------------------------------------------


def launch_template_pool(props: Any) -> Optional[str]:
    """The pool a launch template boots (its instances' gpufleet.io/pool tag), if it says."""
    for spec in items(props, "tagSpecifications"):
        pool = get(spec, "tags", names.POOL_LABEL)
        if isinstance(pool, str):
            return pool
    return None


def _user_data_findings(boot: NodeBoot, pool: Pool) -> Iterable[str]:
    if boot.format is None:
        yield "user data is neither nodeadm MIME nor a cloud-config: nodes would boot something the pool plan does not say"
        return
    expected_parts = NODEADM_PARTS if boot.format == NODEADM else CLOUD_CONFIG_KEYS
    if boot.parts != expected_parts:
        yield f"user data ({boot.format}) has parts {list(boot.parts)}, expected {list(expected_parts)}"
    for problem in boot.problems:
        yield f"user data ({boot.format}): {problem}"
    if pool.source == KARPENTER_POOL and boot.format == NODEADM:
        # Karpenter's own NodeConfig, merged after this one, registers the NodePool's labels and taints.
        if boot.kubelet_flags is not None:
            yield (f"the user data sets kubelet flags {list(boot.kubelet_flags)}: on a Karpenter pool they override "
                   f"the taints Karpenter registers its nodes with ({UNREGISTERED_TAINT.key} among them)")
        return
    taints = [*pool.taints, UNREGISTERED_TAINT] if pool.source == KARPENTER_POOL else pool.taints
    expected = tuple(kubelet_flags(taints, pool.labels))
    if boot.kubelet_flags is None and not boot.problems:
        yield f"the user data sets no kubelet flags: nodes would register without {pool.label}'s labels and taints"
    elif boot.kubelet_flags is not None and boot.kubelet_flags != expected:
        yield (
            f"the kubelet would register with {list(boot.kubelet_flags)}, but {pool.label}'s "
            f"{'NodePool' if pool.source == KARPENTER_POOL else 'node group'} says "
            f"{list(expected)}: the labels and taints nodes register with must be the pool's"
        )


def _booted_user_data(fleet: Fleet) -> Iterable[tuple[str, Optional[str], Optional[str]]]:
    """(urn, user data, pool name) of every launch template and Karpenter node class of the stack."""
    for template in fleet.of_type(resource_types.LAUNCH_TEMPLATE):
        yield template.urn, decode_user_data(get(template.props, "userData")), launch_template_pool(template.props)
    for node_class in fleet.of_type(resource_types.EC2_NODE_CLASS):
        pool = get(node_class.props, "spec", "tags", names.POOL_LABEL)
        yield node_class.urn, decode_user_data(get(node_class.props, "spec", "userData")), pool


def _check_user_data(fleet: Fleet, opts: Mapping[str, Any]) -> Iterable[tuple[Optional[str], str]]:
    for urn, text, pool_name in _booted_user_data(fleet):
        pool = fleet.pools.get(pool_name or "")
        if text is None or pool is None or pool.source not in ("nodegroup", KARPENTER_POOL):
            continue  # no user data, unknown during preview, or no pool of this stack to compare with
        for message in _user_data_findings(read_user_data(text), pool):
            yield urn, f"{pool.label}: {message}"


node_user_data_matches_pool = stack_policy(
    name="node-user-data-matches-pool",
    description=(
        "The user data a GPU pool's nodes boot with is what the pool plan renders: nodeadm MIME with exactly a "
        "NodeConfig and the bootstrap script, or a cloud-config that only runs the bootstrap script; the kubelet "
        "registers with exactly the node group's taints and labels (a Karpenter pool's: Karpenter's NodeConfig says "
        "them on AL2023, a custom AMI's user data adds Karpenter's unregistered taint)."
    ),
    check=_check_user_data,
    severity=Severity.CRITICAL,
    remediation_steps=(
        "Let gpu-fleet render the launch template's user data (core.boot); labels and taints belong in the stack "
        "config's nodePools[].labels and taints, never in hand-edited user data."
    ),
)


POLICIES = [
    gpu_nodes_tainted,
    spot_pools_tainted,
    no_inference_on_spot,
    node_groups_scaled,
    spot_pools_diversified,
    reserved_pools_unplaced,
    imdsv2_required,
    ebs_encrypted,
    node_user_data_matches_pool,
]
