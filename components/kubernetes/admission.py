"""TenantAdmission: the tenancy rules enforced by the API server after deploy (ValidatingAdmissionPolicy, CEL).

The policy pack checks the plan before `pulumi up`; this component keeps the same rules true for
the pods tenants create afterwards. One ValidatingAdmissionPolicy and one binding cover every
tenant namespace (namespaceSelector on gpufleet.io/tenant). What differs per tenant comes from
the namespace the Tenant component stamps (`namespaceObject` in CEL): its allowed pools
(annotation gpufleet.io/pools). What differs per pool comes from the fleet plan, written into the
policy as a CEL map literal: the taints each pool carries (the fleet plan's PoolPlan.taints).

In a tenant namespace:
  - no MPS: no CUDA_MPS_* environment, no nvidia.com/mps* resources, no MPS annotations;
  - no GPU chosen by the pod itself: no NVIDIA_VISIBLE_DEVICES in a container's env and no mount where the
    device plugin hands devices over (/var/run/nvidia-container-devices); the nodes' toolkit ignores the
    variable for unprivileged containers anyway (images set it too, and envFrom is out of CEL's sight);
  - a pod of priority class gpufleet-critical does not tolerate (or select) spot capacity;
  - a GPU pod (requests or limits nvidia.com/gpu or nvidia.com/mig-*) has GPU requests equal to limits,
    selects one of the tenant's pools (nodeSelector gpufleet.io/pool, or every required node-affinity
    term restricted to them), tolerates only taints of those pools (plus node.kubernetes.io/*, which the
    API server adds itself), and does not bypass the scheduler with spec.nodeName.

Everything below the component is pure: the expressions are built by functions the tests parse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from core.names import (
    CAPACITY_LABEL,
    CONTAINER_DEVICES_DIR,
    GPU_RESOURCE,
    MIG_RESOURCE_PREFIX,
    PLACEMENT_CONFIGMAP,
    POOL_LABEL,
    POOLS_ANNOTATION,
    PRIORITY_CLASSES,
    SPOT,
    SPOT_TAINT_KEY,
    TENANT_LABEL,
    TENANT_TAINT_KEY,
    VISIBLE_DEVICES_ENV,
)
from core.plan import PoolPlan

from .meta import object_meta

POLICY_NAME = "gpufleet-tenant-pods"
BINDING_NAME = "gpufleet-tenant-pods"
CRITICAL_CLASS = PRIORITY_CLASSES["critical"]
# Tolerations the API server adds itself (DefaultTolerationSeconds) or that concern node health only.
SYSTEM_TOLERATION_PREFIX = "node.kubernetes.io/"
MPS_ENV_PREFIX = "CUDA_MPS_"
MPS_RESOURCE_PREFIX = "nvidia.com/mps"
MPS_ANNOTATION_MARKERS = ("nvidia.com/mps", "mps.nvidia.com/")

# Substrings every denial message carries, one per rule (the live check matches on them).
RULE_MARKERS = {
    "mps": "MPS sharing is not offered",
    "visible-devices": "may not choose their own GPUs",
    "critical-spot": "may not run on spot capacity",
    "gpu-requests-limits": "GPU requests must equal limits",
    "pool-selected": "must select one of its pools",
    "pool-tolerations": "may only tolerate the taints of its pools",
    "node-name": "may not set spec.nodeName",
}


def cel_literal(value) -> str:
    """A Python value as a CEL literal (strings JSON-quoted: CEL accepts the same escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(cel_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{cel_literal(str(k))}: {cel_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no CEL literal for {type(value).__name__}")


PoolTaints = Mapping[str, tuple[dict[str, str], ...]]


def pool_taint_table(pools: tuple[PoolPlan, ...]) -> PoolTaints:
    """Pool name -> the taints its nodes carry, as the policy reads them."""
    return {pool.name: tuple(t.as_kubernetes() for t in pool.taints) for pool in pools}


def _is_gpu_key(var: str) -> str:
    return f"({var} == {cel_literal(GPU_RESOURCE)} || {var}.startsWith({cel_literal(MIG_RESOURCE_PREFIX)}))"


def containers_expression(pod_spec: str) -> str:
    """The containers and init containers of the pod spec at CEL path `pod_spec`."""
    return f"{pod_spec}.containers + (has({pod_spec}.initContainers) ? {pod_spec}.initContainers : [])"


def requests_gpus_expression(containers: str) -> str:
    """Some container of the list at CEL path `containers` requests or limits a GPU resource."""
    return (
        f"{containers}.exists(c, has(c.resources) && ("
        f"(has(c.resources.requests) && c.resources.requests.exists(k, {_is_gpu_key('k')})) || "
        f"(has(c.resources.limits) && c.resources.limits.exists(k, {_is_gpu_key('k')}))))"
    )


def variables(pool_taints: PoolTaints) -> list[dict[str, str]]:
    """Named expressions the validations share (evaluated lazily, at most once per request)."""
    pools = f"namespaceObject.metadata.annotations[{cel_literal(POOLS_ANNOTATION)}]"
    return [
        {"name": "containers", "expression": containers_expression("object.spec")},
        {"name": "gpuPod", "expression": requests_gpus_expression("variables.containers")},
        {
            "name": "allowedPools",
            "expression": "has(namespaceObject.metadata.annotations) && "
            f"{cel_literal(POOLS_ANNOTATION)} in namespaceObject.metadata.annotations && {pools} != '' ? "
            f"{pools}.split(',') : []",
        },
        {"name": "poolTaints", "expression": cel_literal(dict(pool_taints))},
        {
            "name": "tolerations",
            "expression": "has(object.spec.tolerations) ? object.spec.tolerations : []",
        },
        {
            "name": "selectedPool",
            "expression": f"has(object.spec.nodeSelector) && {cel_literal(POOL_LABEL)} in object.spec.nodeSelector ? "
            f"object.spec.nodeSelector[{cel_literal(POOL_LABEL)}] : ''",
        },
        {
            "name": "affinityTerms",
            "expression": "has(object.spec.affinity) && has(object.spec.affinity.nodeAffinity) && "
            "has(object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution) && "
            "has(object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms) ? "
            "object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms : []",
        },
    ]


def mps_expression() -> str:
    env = (
        "variables.containers.all(c, !has(c.env) || "
        f"c.env.all(e, !e.name.startsWith({cel_literal(MPS_ENV_PREFIX)})))"
    )
    resources = (
        "variables.containers.all(c, !has(c.resources) || ("
        f"(!has(c.resources.requests) || c.resources.requests.all(k, !k.startsWith({cel_literal(MPS_RESOURCE_PREFIX)}))) && "
        f"(!has(c.resources.limits) || c.resources.limits.all(k, !k.startsWith({cel_literal(MPS_RESOURCE_PREFIX)})))))"
    )
    markers = " || ".join(f"k.contains({cel_literal(m)})" for m in MPS_ANNOTATION_MARKERS)
    annotations = f"!has(object.metadata.annotations) || object.metadata.annotations.all(k, !({markers}))"
    return f"{env} && {resources} && ({annotations})"


def visible_devices_expression() -> str:
    # Any mount path naming the directory (also /run/..., //var/run/..., a trailing slash) is refused.
    devices_dir = CONTAINER_DEVICES_DIR.rsplit("/", 1)[-1]
    return (
        f"variables.containers.all(c, (!has(c.env) || c.env.all(e, e.name != {cel_literal(VISIBLE_DEVICES_ENV)})) && "
        f"(!has(c.volumeMounts) || c.volumeMounts.all(m, !m.mountPath.contains({cel_literal(devices_dir)}))))"
    )


def critical_spot_expression() -> str:
    spot_toleration = (
        f"variables.tolerations.exists(t, (!has(t.key) || t.key == '' || t.key == {cel_literal(SPOT_TAINT_KEY)}) && "
        f"(has(t.operator) && t.operator == 'Exists' || has(t.value) && t.value == {cel_literal(SPOT)}))"
    )
    spot_selector = (
        f"has(object.spec.nodeSelector) && {cel_literal(CAPACITY_LABEL)} in object.spec.nodeSelector && "
        f"object.spec.nodeSelector[{cel_literal(CAPACITY_LABEL)}] == {cel_literal(SPOT)}"
    )
    return (
        f"!has(object.spec.priorityClassName) || object.spec.priorityClassName != {cel_literal(CRITICAL_CLASS)} || "
        f"!({spot_toleration} || {spot_selector})"
    )


def requests_equal_limits_expression() -> str:
    def equal(side: str, other: str) -> str:
        return (
            f"(!has(c.resources.{side}) || c.resources.{side}.all(k, !{_is_gpu_key('k')} || "
            f"(has(c.resources.{other}) && k in c.resources.{other} && "
            f"quantity(string(c.resources.{side}[k])).compareTo(quantity(string(c.resources.{other}[k]))) == 0)))"
        )

    return (
        "!variables.gpuPod || variables.containers.all(c, !has(c.resources) || "
        f"({equal('requests', 'limits')} && {equal('limits', 'requests')}))"
    )


def pool_selected_expression() -> str:
    term_ok = (
        "has(term.matchExpressions) && term.matchExpressions.exists(e, "
        f"e.key == {cel_literal(POOL_LABEL)} && e.operator == 'In' && has(e.values) && size(e.values) > 0 && "
        "e.values.all(v, v in variables.allowedPools))"
    )
    by_selector = "variables.selectedPool != '' && variables.selectedPool in variables.allowedPools"
    by_affinity = f"size(variables.affinityTerms) > 0 && variables.affinityTerms.all(term, {term_ok})"
    foreign_selector = "variables.selectedPool != '' && !(variables.selectedPool in variables.allowedPools)"
    return f"!variables.gpuPod || (!({foreign_selector}) && (({by_selector}) || ({by_affinity})))"


def pool_tolerations_expression() -> str:
    # `Exists` tolerates every value of the key: fine for the GPU and spot taints, but on the tenant key of
    # dedicated pools it would tolerate every other tenant's pools too, so that one must name its value.
    exists = "(has(t.operator) && t.operator == 'Exists')"
    matches_taint = (
        "variables.allowedPools.exists(p, p in variables.poolTaints && variables.poolTaints[p].exists(taint, "
        "t.key == taint.key && "
        f"(({exists} && t.key != {cel_literal(TENANT_TAINT_KEY)}) || (!{exists} && (has(t.value) ? t.value : '') == taint.value)) && "
        "(!has(t.effect) || t.effect == '' || t.effect == taint.effect)))"
    )
    system = f"t.key.startsWith({cel_literal(SYSTEM_TOLERATION_PREFIX)})"
    return (
        "!variables.gpuPod || variables.tolerations.all(t, has(t.key) && t.key != '' && "
        f"({system} || {matches_taint}))"
    )


def node_name_expression() -> str:
    return (
        "!variables.gpuPod || request.operation != 'CREATE' || "
        "!has(object.spec.nodeName) || object.spec.nodeName == ''"
    )


def _pools_text() -> str:
    return "(size(variables.allowedPools) > 0 ? variables.allowedPools.join(', ') : 'none')"


def validations() -> list[dict[str, str]]:
    """Rules in the order they are reported: the non-GPU ones first."""
    ns = "namespaceObject.metadata.name"
    m = RULE_MARKERS
    return [
        {
            "expression": mps_expression(),
            "message": f"{m['mps']} in tenant namespaces (no CUDA_MPS_* env, nvidia.com/mps resources or "
            "MPS annotations): MPS has no memory isolation between tenants",
            "reason": "Forbidden",
        },
        {
            "expression": visible_devices_expression(),
            "message": f"pods in tenant namespaces {m['visible-devices']}: no {VISIBLE_DEVICES_ENV} in env and no "
            f"mount at {CONTAINER_DEVICES_DIR}; request nvidia.com/gpu and the device plugin assigns them",
            "reason": "Forbidden",
        },
        {
            "expression": critical_spot_expression(),
            "message": f"pods of priority class {CRITICAL_CLASS} {m['critical-spot']}: "
            f"remove the {SPOT_TAINT_KEY}={SPOT} toleration/selector",
            "reason": "Forbidden",
        },
        {
            "expression": requests_equal_limits_expression(),
            "message": f"{m['gpu-requests-limits']} for every container (nvidia.com/gpu and nvidia.com/mig-*)",
            "reason": "Invalid",
        },
        {
            "expression": pool_selected_expression(),
            "messageExpression": f"'GPU pods in namespace ' + {ns} + ' {m['pool-selected']} ('"
            f" + {_pools_text()} + ') with nodeSelector {POOL_LABEL} or required node affinity'"
            " + (variables.selectedPool != '' ? '; got ' + variables.selectedPool : '')",
            "message": f"GPU pods in a tenant namespace {m['pool-selected']} (nodeSelector {POOL_LABEL})",
            "reason": "Forbidden",
        },
        {
            "expression": pool_tolerations_expression(),
            "messageExpression": f"'GPU pods in namespace ' + {ns} + ' {m['pool-tolerations']} ('"
            f" + {_pools_text()} + '); see ConfigMap {PLACEMENT_CONFIGMAP}'",
            "message": f"GPU pods in a tenant namespace {m['pool-tolerations']} (see ConfigMap {PLACEMENT_CONFIGMAP})",
            "reason": "Forbidden",
        },
        {
            "expression": node_name_expression(),
            "message": f"GPU pods in a tenant namespace {m['node-name']}: the scheduler places them",
            "reason": "Forbidden",
        },
    ]


def expressions(pool_taints: PoolTaints) -> list[str]:
    """Every CEL expression of the policy (variables, validations, message expressions)."""
    found = [v["expression"] for v in variables(pool_taints)]
    for v in validations():
        found.append(v["expression"])
        if "messageExpression" in v:
            found.append(v["messageExpression"])
    return found


def tenant_namespace_selector() -> dict:
    return {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}


def policy_spec(pool_taints: PoolTaints) -> dict:
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "namespaceSelector": tenant_namespace_selector(),
            "resourceRules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}
            ],
        },
        "variables": variables(pool_taints),
        "validations": validations(),
    }


def binding_spec() -> dict:
    return {
        "policyName": POLICY_NAME,
        "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": tenant_namespace_selector()},
    }


@dataclass(frozen=True)
class TenantAdmissionArgs:
    pool_taints: PoolTaints
    """Pool name -> the taints its nodes carry (pool_taint_table of the fleet plan's pools)."""


class TenantAdmission(pulumi.ComponentResource):
    """The ValidatingAdmissionPolicy and its binding over every tenant namespace."""

    def __init__(self, name: str, args: TenantAdmissionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:admission:TenantAdmission", name, None, opts)
        policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            POLICY_NAME,
            metadata=object_meta(POLICY_NAME),
            spec=policy_spec(args.pool_taints),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{BINDING_NAME}-binding",
            metadata=object_meta(BINDING_NAME),
            spec=binding_spec(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"policy": POLICY_NAME})
