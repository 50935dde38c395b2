"""The fleet's Kueue objects (components/kubernetes/queues.py) against the rules Kueue enforces.

Several ClusterQueue rules are checked only by Kueue's validating webhook, not by the CRD schema
(sigs.k8s.io/kueue v0.17.0 pkg/webhooks/clusterqueue_webhook.go: validateResourceGroups,
validateFlavorQuotas, validateLimit, validateLendingLimit), so objects applied while the manager is
down, or judged before deployment, must already follow them. Each is encoded here over the prod
stack's objects and a stack with every pool kind.
"""

from __future__ import annotations

import pytest
from fleet_fixtures import plan_of, stack_config

from components.kubernetes.queues import (
    QUEUE_POLICY,
    cluster_queue_manifest,
    queue_manifests,
    queue_policy_spec,
    workload_priority_class_manifests,
)
from components.kubernetes.scheduling import priority_classes
from core.names import KUEUE_API_VERSION, QUEUE_NAME_LABEL
from core.queues import CPU_MEMORY_FLAVOR, EFA_TOPOLOGY_LEVELS


def _mixed_config() -> dict:
    config = stack_config("local")  # time-slicing and MIG mixed pools
    config["queues"] = {"enabled": True}
    config["tenants"][0]["queue"] = {"borrowingLimit": 2, "lendingLimit": 1}
    return config


def _prod_config() -> dict:
    return stack_config("prod")


CONFIGS = {"prod": _prod_config, "mixed": _mixed_config}


def objects(config) -> list[dict]:
    plan = plan_of(config)
    return [obj for stage in queue_manifests(plan.queues) for obj in stage]


def of_kind(found: list[dict], kind: str) -> list[dict]:
    return [o for o in found if o["kind"] == kind]


@pytest.fixture(params=sorted(CONFIGS))
def rendered(request) -> list[dict]:
    return objects(CONFIGS[request.param]())


def test_every_object_is_of_kueues_storage_version(rendered):
    assert {o["apiVersion"] for o in rendered} == {KUEUE_API_VERSION}


def test_each_flavor_lists_the_covered_resources_in_their_order(rendered):
    # validateFlavorQuotas: "must match the name in coveredResources", position by position
    for obj in of_kind(rendered, "ClusterQueue") + of_kind(rendered, "Cohort"):
        for group in obj["spec"]["resourceGroups"]:
            for flavor in group["flavors"]:
                assert [r["name"] for r in flavor["resources"]] == group["coveredResources"], obj["metadata"]["name"]


def test_no_resource_or_flavor_is_in_two_groups(rendered):
    # validateResourceGroups: field.Duplicate for a resource or a flavor in a second group
    for obj in of_kind(rendered, "ClusterQueue") + of_kind(rendered, "Cohort"):
        groups = obj["spec"]["resourceGroups"]
        resources = [r for g in groups for r in g["coveredResources"]]
        flavors = [f["name"] for g in groups for f in g["flavors"]]
        assert len(resources) == len(set(resources)) and len(flavors) == len(set(flavors))


def test_limits_need_a_cohort_and_lending_stays_within_nominal(rendered):
    # validateLimit (no limit without cohort), validateLendingLimit (lendingLimit <= nominalQuota)
    for obj in of_kind(rendered, "ClusterQueue"):
        assert obj["spec"]["cohortName"]
        for group in obj["spec"]["resourceGroups"]:
            for flavor in group["flavors"]:
                for quota in flavor["resources"]:
                    if "lendingLimit" in quota:
                        assert int(quota["lendingLimit"]) <= int(quota["nominalQuota"])


def test_queues_cover_cpu_and_memory_in_a_flavor_of_their_own():
    # flavorassigner: a resource no group covers is "unavailable in ClusterQueue", and pods request cpu and memory
    found = objects(_prod_config())
    for obj in of_kind(found, "ClusterQueue"):
        (cpu_memory,) = [g for g in obj["spec"]["resourceGroups"] if "cpu" in g["coveredResources"]]
        assert cpu_memory["coveredResources"] == ["cpu", "memory"]
        assert [f["name"] for f in cpu_memory["flavors"]] == [CPU_MEMORY_FLAVOR]
        assert all(r["borrowingLimit"] == 0 for r in cpu_memory["flavors"][0]["resources"])
    (flavor,) = [o for o in of_kind(found, "ResourceFlavor") if o["metadata"]["name"] == CPU_MEMORY_FLAVOR]
    assert flavor["spec"] == {}


def test_a_queue_admits_only_its_tenants_namespace():
    # clusterqueue_types.go: a nil namespaceSelector matches no namespace, {} every namespace
    for obj in of_kind(objects(_prod_config()), "ClusterQueue"):
        name = obj["metadata"]["name"]
        assert obj["spec"]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": name}}


def test_preemption_reclaims_lent_gpus_and_keeps_to_fair_sharing(rendered):
    for obj in of_kind(rendered, "ClusterQueue"):
        preemption = obj["spec"]["preemption"]
        assert preemption["reclaimWithinCohort"] == "Any"
        # borrowWithinCohort "may only be configured with Classical Preemption, and not with Fair Sharing"
        assert "borrowWithinCohort" not in preemption


def test_local_queues_name_their_tenants_cluster_queue(rendered):
    queues = {o["metadata"]["name"] for o in of_kind(rendered, "ClusterQueue")}
    for obj in of_kind(rendered, "LocalQueue"):
        assert obj["metadata"]["namespace"] == obj["metadata"]["name"] == obj["spec"]["clusterQueue"]
        assert obj["spec"]["clusterQueue"] in queues
    # not "default": Kueue would label every Job of the namespace with it (jobframework/defaults.go), and the
    # queue-name policy could never refuse one
    assert "default" not in {o["metadata"]["name"] for o in of_kind(rendered, "LocalQueue")}


def test_workload_priority_classes_match_the_fleets_priority_classes():
    found = {o["metadata"]["name"]: o["value"] for o in workload_priority_class_manifests()}
    assert found == {c.name: c.value for c in priority_classes()}
    assert all("spec" not in o for o in workload_priority_class_manifests())  # WPC: top-level value, no spec


def test_efa_pools_flavors_name_the_network_topology():
    found = objects(_prod_config())
    (topology,) = of_kind(found, "Topology")
    levels = [level["nodeLabel"] for level in topology["spec"]["levels"]]
    assert levels == list(EFA_TOPOLOGY_LEVELS) and levels[-1] == "kubernetes.io/hostname"
    plan = plan_of(_prod_config())
    for flavor in of_kind(found, "ResourceFlavor"):
        name = flavor["metadata"]["name"]
        if name == CPU_MEMORY_FLAVOR:
            continue
        assert (flavor["spec"].get("topologyName") is not None) == plan.pool(name).efa


def test_mig_mixed_queues_cover_each_profile():
    plan = plan_of(_mixed_config())
    research = cluster_queue_manifest(plan.queues.tenant("team-research"))
    covered = research["spec"]["resourceGroups"][0]["coveredResources"]
    assert covered == sorted(plan.pool("training-a100").gpu_resources)


def test_queue_policy_refuses_gpu_jobs_without_a_queue():
    from celpy import Environment, json_to_cel

    spec = queue_policy_spec()
    assert spec["matchConstraints"]["resourceRules"][0]["resources"] == ["jobs"]
    (rule,) = spec["validations"]
    program = Environment().program(Environment().compile(rule["expression"]))

    def allowed(labels: dict, resources: dict) -> bool:
        job = {"metadata": {"labels": labels}, "spec": {"template": {"spec": {"containers": [
            {"name": "c", "resources": resources}]}}}}
        return bool(program.evaluate({"object": json_to_cel(job)}))

    gpus = {"limits": {"nvidia.com/gpu": "1"}}
    assert not allowed({}, gpus)
    assert not allowed({QUEUE_NAME_LABEL: ""}, gpus)
    assert allowed({QUEUE_NAME_LABEL: "team-a"}, gpus)
    assert allowed({}, {"requests": {"cpu": "1"}})  # no GPU: not the queue's business
    assert not allowed({}, {"requests": {"nvidia.com/mig-1g.5gb": "1"}})
    assert QUEUE_POLICY.startswith("gpufleet-")
