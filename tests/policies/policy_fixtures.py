"""Compliant resource fixtures for policy tests, and a runner that evaluates one policy on them
exactly as `gpufleet check` does (gpufleet.check.evaluate, the engine's property shapes).

Each test starts from a compliant fixture and changes one field.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Optional

import policies
from gpufleet.check import evaluate
from gpufleet.offline import PlannedResource

STACK_URN = "urn:pulumi:test::gpu-fleet::"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi's unknown-string sentinel


def resource(type_: str, name: str, inputs: dict) -> PlannedResource:
    return PlannedResource(type=type_, name=name, urn=f"{STACK_URN}{type_}::{name}", inputs=inputs, custom=True)


@dataclass
class FakeRun:
    resources: list = field(default_factory=list)


def violations(policy_name: str, *resources: PlannedResource, config: Optional[dict] = None) -> list[dict]:
    """Violations of one policy on these resources (policy config in the engine's format)."""
    policy = policies.BY_NAME[policy_name]
    return evaluate(FakeRun(list(resources)), config, policies=[policy])


def messages(policy_name: str, *resources: PlannedResource, config: Optional[dict] = None) -> list[str]:
    return [v["message"] for v in violations(policy_name, *resources, config=config)]


# --- AWS -------------------------------------------------------------------------------


def node_group_inputs(
    pool: str = "train-h100",
    instance_types=("p5.48xlarge",),
    driver: str = "570.133.20",
    gpu: str = "H100",
    capacity: str = "ON_DEMAND",
    workload: str = "training",
    sharing: str = "exclusive",
    max_size: float = 2.0,
) -> dict:
    capacity_label = "spot" if capacity == "SPOT" else "on-demand"
    taints = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    if capacity == "SPOT":
        taints.append({"key": "gpufleet.io/capacity", "value": "spot", "effect": "NO_SCHEDULE"})
    return {
        "clusterName": "c",
        "nodeGroupName": f"c-{pool}",
        "capacityType": capacity,
        "instanceTypes": list(instance_types),
        "amiType": "AL2023_x86_64_STANDARD",
        "scalingConfig": {"minSize": 0.0, "desiredSize": 1.0, "maxSize": max_size},
        "labels": {
            "gpufleet.io/pool": pool,
            "gpufleet.io/workload": workload,
            "gpufleet.io/capacity": capacity_label,
            "gpufleet.io/gpu": gpu,
            "gpufleet.io/driver-version": driver,
            "gpufleet.io/sharing": sharing,
            "nvidia.com/gpu.present": "true",
            "nvidia.com/device-plugin.config": pool,
        },
        "taints": taints,
    }


def node_group(**kwargs) -> PlannedResource:
    inputs = node_group_inputs(**kwargs)
    return resource("aws:eks/nodeGroup:NodeGroup", inputs["nodeGroupName"], inputs)


def mig_node_group(profile: str = "3g.40gb", instance_types=("p5.48xlarge",), gpu: str = "H100", driver: str = "570.133.20") -> PlannedResource:
    inputs = node_group_inputs(instance_types=instance_types, gpu=gpu, driver=driver, sharing="mig")
    inputs["labels"]["nvidia.com/mig.config"] = f"all-{profile}"
    return resource("aws:eks/nodeGroup:NodeGroup", inputs["nodeGroupName"], inputs)


def launch_template_inputs() -> dict:
    return {
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 2.0},
        "blockDeviceMappings": [
            {"deviceName": "/dev/xvda", "ebs": {"volumeType": "gp3", "volumeSize": 200.0, "encrypted": "true"}}
        ],
        "updateDefaultVersion": True,
    }


def launch_template(inputs: Optional[dict] = None) -> PlannedResource:
    return resource("aws:ec2/launchTemplate:LaunchTemplate", "lt", inputs if inputs is not None else launch_template_inputs())


# --- Kubernetes ------------------------------------------------------------------------


def namespace_inputs(
    tenant: str = "team-a",
    pools=("train-h100",),
    cuda=("12.4",),
    priority: str = "standard",
    isolation: str = "shared",
    enforce: Optional[str] = "restricted",
) -> dict:
    labels = {"gpufleet.io/tenant": tenant}
    if enforce is not None:
        labels["pod-security.kubernetes.io/enforce"] = enforce
    return {
        "metadata": {
            "name": tenant,
            "labels": labels,
            "annotations": {
                "gpufleet.io/pools": ",".join(pools),
                "gpufleet.io/cuda-versions": ",".join(cuda),
                "gpufleet.io/priority": priority,
                "gpufleet.io/isolation": isolation,
            },
        }
    }


def namespace(**kwargs) -> PlannedResource:
    inputs = namespace_inputs(**kwargs)
    return resource("kubernetes:core/v1:Namespace", inputs["metadata"]["name"], inputs)


def quota(ns: str = "team-a", gpus: Any = "8") -> PlannedResource:
    return resource(
        "kubernetes:core/v1:ResourceQuota",
        f"{ns}-quota",
        {"metadata": {"name": "gpu", "namespace": ns}, "spec": {"hard": {"requests.nvidia.com/gpu": gpus}}},
    )


def network_policy_inputs(ns: str = "team-a") -> dict:
    return {
        "metadata": {"name": "default-deny", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{"from": [{"podSelector": {}}]}]},
    }


def network_policy(ns: str = "team-a", inputs: Optional[dict] = None) -> PlannedResource:
    return resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{ns}-deny", inputs or network_policy_inputs(ns))


def inventory_pool(name: str = "train-h100", **overrides) -> dict:
    pool = {
        "name": name,
        "instanceTypes": ["p5.48xlarge"],
        "capacity": "on-demand",
        "capacityType": "ON_DEMAND",
        "workload": "training",
        "minSize": 0,
        "desiredSize": 1,
        "maxSize": 2,
        "gpu": "H100",
        "gpusPerNode": 8,
        "driverVersion": "570.133.20",
        "sharing": {"mode": "exclusive"},
        "efa": False,
        "labels": {"gpufleet.io/pool": name, "nvidia.com/gpu.present": "true"},
        "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
        "managedBy": "existing",
    }
    pool.update(overrides)
    return pool


def inventory(*pools: dict) -> PlannedResource:
    return resource(
        "kubernetes:core/v1:ConfigMap",
        "gpu-system-gpufleet-node-pools",
        {
            "metadata": {"name": "gpufleet-node-pools", "namespace": "gpu-system"},
            "data": {"pools.json": json.dumps(list(pools) or [inventory_pool()])},
        },
    )


def device_plugin_config(pool: str = "train-h100", sharing: Optional[dict] = None) -> dict:
    config = {"version": "v1", "flags": {"migStrategy": "none"}}
    if sharing is not None:
        config["sharing"] = sharing
    return config


def device_plugin_configmap(configs: Optional[dict] = None) -> PlannedResource:
    import yaml

    configs = configs if configs is not None else {"train-h100": device_plugin_config()}
    return resource(
        "kubernetes:core/v1:ConfigMap",
        "nvidia-device-plugin-configs",
        {
            "metadata": {"name": "nvidia-device-plugin-configs", "namespace": "gpu-system"},
            "data": {k: yaml.safe_dump(v) for k, v in configs.items()},
        },
    )


def daemon_set_inputs(image: str = "nvcr.io/nvidia/k8s-device-plugin:v0.20.0", init_image: Optional[str] = None) -> dict:
    spec: dict = {"containers": [{"name": "main", "image": image}]}
    if init_image is not None:
        spec["initContainers"] = [{"name": "init", "image": init_image}]
    return {
        "metadata": {"name": "nvidia-device-plugin", "namespace": "gpu-system"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"spec": spec}},
    }


def daemon_set(**kwargs) -> PlannedResource:
    return resource("kubernetes:apps/v1:DaemonSet", "nvidia-device-plugin", daemon_set_inputs(**kwargs))


def role_binding(role: str = "edit", ns: str = "team-a", subject: str = "vision-devs", kind: str = "RoleBinding", labels=None) -> PlannedResource:
    inputs = {
        "metadata": {"name": f"{ns}-{role}", "namespace": ns, "labels": labels or {"gpufleet.io/tenant": ns}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": subject}],
    }
    return resource(f"kubernetes:rbac.authorization.k8s.io/v1:{kind}", f"{ns}-{role}", inputs)


def tenant_stack(**namespace_kwargs) -> list[PlannedResource]:
    """A compliant tenant on a compliant pool: node group, namespace, quota, network policy."""
    ns = namespace(**namespace_kwargs)
    name = ns.inputs["metadata"]["name"]
    return [node_group(), ns, quota(name), network_policy(name)]


def cluster_queue(name: str = "team-a", cohort: Optional[str] = "shared", flavors: Optional[dict] = None,
                  tenant: Optional[str] = None) -> PlannedResource:
    """A tenant's ClusterQueue; flavors: pool -> {nominalQuota, borrowingLimit?, lendingLimit?} of nvidia.com/gpu."""
    flavors = flavors if flavors is not None else {"train-h100": {"nominalQuota": 8}}
    spec: dict = {"resourceGroups": [{
        "coveredResources": ["nvidia.com/gpu"],
        "flavors": [{"name": pool, "resources": [{"name": "nvidia.com/gpu", **quota}]} for pool, quota in flavors.items()],
    }]}
    if cohort is not None:
        spec["cohortName"] = cohort
    inputs = {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ClusterQueue",
              "metadata": {"name": name, "labels": {"gpufleet.io/tenant": tenant or name}}, "spec": spec}
    return resource("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", name, inputs)


def cohort(name: str = "shared", idle: Optional[dict] = None) -> PlannedResource:
    """A Cohort with its own nominal nvidia.com/gpu per pool (idle: pool -> units)."""
    idle = idle if idle is not None else {"train-h100": 0}
    inputs = {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Cohort", "metadata": {"name": name}, "spec": {
        "resourceGroups": [{"coveredResources": ["nvidia.com/gpu"], "flavors": [
            {"name": pool, "resources": [{"name": "nvidia.com/gpu", "nominalQuota": units}]} for pool, units in idle.items()]}]}}
    return resource("kubernetes:kueue.x-k8s.io/v1beta2:Cohort", name, inputs)


DELETE = object()


def edited(res: PlannedResource, path: tuple, value: Any) -> PlannedResource:
    """A copy of `res` with the input at `path` (keys and list indexes) set to `value`, or removed (DELETE)."""
    inputs = copy.deepcopy(res.inputs)
    target = inputs
    for part in path[:-1]:
        target = target[part]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return PlannedResource(res.type, res.name, res.urn, inputs, res.custom)
