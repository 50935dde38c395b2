"""Which provisioner launches a pool's nodes (the spec's nodePools[].provisioner and its default) and the
disruption settings a Karpenter pool gets."""

from __future__ import annotations

import pytest
from fleet_fixtures import plan_of, spec_of, stack_config

from core.karpenter import node_pool
from core.names import KARPENTER, NODEGROUP
from core.spec_loader import SpecError


def _config(pool: dict, mode: str = "prod") -> dict:
    config = stack_config(mode)
    config["nodePools"] = [{"name": "x", "instanceTypes": ["g6.xlarge"], **pool}]
    config["tenants"] = []
    config["queues"] = {"enabled": False}
    return config


def _problems(config: dict) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as raised:
        spec_of(config)
    return raised.value.problems


@pytest.mark.parametrize("sizes, expected", [
    ({"minSize": 0, "maxSize": 4}, KARPENTER),   # elastic from zero
    ({"minSize": 2, "maxSize": 4}, NODEGROUP),   # a floor of warm nodes: Karpenter keeps none
    ({"minSize": 3, "maxSize": 3}, NODEGROUP),   # static
])
def test_the_default_provisioner_follows_the_sizes(sizes, expected):
    (pool,) = plan_of(_config(sizes)).pools
    assert pool.provisioner == expected


def test_an_existing_cluster_has_no_provisioner():
    config = stack_config("local")
    assert {p.provisioner for p in plan_of(config).pools} == {None}
    config["nodePools"][0]["provisioner"] = KARPENTER
    assert _problems(config) == [("nodePools[0].provisioner", "'karpenter' needs cluster.mode eks: the program "
                                  "deploys Karpenter with the cluster it creates (an existing cluster's nodes exist "
                                  "already)")]


def test_a_karpenter_pool_has_no_floor_and_no_desired_size():
    problems = _problems(_config({"provisioner": KARPENTER, "minSize": 1, "desiredSize": 2, "maxSize": 4}))
    assert [path for path, _ in problems] == ["nodePools[0].minSize", "nodePools[0].desiredSize"]
    assert "use provisioner 'nodegroup' for a floor of nodes" in problems[0][1]


def test_disruption_is_for_karpenter_pools_only():
    problems = _problems(_config({"minSize": 1, "maxSize": 4, "disruption": {"consolidateAfter": "1m"}}))
    assert problems == [("nodePools[0].disruption", "only valid when the pool's provisioner is 'karpenter'")]


@pytest.mark.parametrize("workload, expected", [("training", "WhenEmpty"), ("batch", "WhenEmptyOrUnderutilized"),
                                                ("inference", "WhenEmptyOrUnderutilized")])
def test_consolidation_defaults_by_workload(workload, expected):
    (pool,) = plan_of(_config({"workload": workload, "maxSize": 2})).pools
    assert (pool.disruption.consolidation, pool.disruption.consolidate_after, pool.disruption.budget) == \
        (expected, "15m", "1")


def test_a_reserved_pool_is_never_consolidated_unless_it_says_so():
    """Its reservations are paid whether its nodes run or not; Karpenter skips consolidation of a NodePool whose
    consolidateAfter is Never (sigs.k8s.io/karpenter pkg/controllers/disruption/emptiness.go, consolidation.go)."""
    reserved = {"instanceTypes": ["p5.48xlarge"], "capacity": "reserved", "maxSize": 2,
                "reservation": {"ids": ["cr-0123456789abcdef0"], "instances": 2}}
    (pool,) = plan_of(_config(reserved)).pools
    assert pool.disruption.consolidate_after == "Never"
    assert node_pool(pool)["spec"]["disruption"]["consolidateAfter"] == "Never"
    (pool,) = plan_of(_config({**reserved, "disruption": {"consolidateAfter": "2h"}})).pools
    assert pool.disruption.consolidate_after == "2h"


def test_an_explicit_consolidation_wins():
    (pool,) = plan_of(_config({"workload": "training", "maxSize": 2,
                               "disruption": {"consolidation": "WhenEmptyOrUnderutilized", "budget": "20%"}})).pools
    assert (pool.disruption.consolidation, pool.disruption.budget) == ("WhenEmptyOrUnderutilized", "20%")


@pytest.mark.parametrize("field, value", [("consolidateAfter", "15 minutes"), ("consolidateAfter", "Never"),
                                          ("budget", "101%"), ("budget", "-1"), ("consolidation", "Always")])
def test_bad_disruption_settings_name_the_field(field, value):
    problems = _problems(_config({"maxSize": 2, "disruption": {field: value}}))
    assert [path for path, _ in problems] == [f"nodePools[0].disruption.{field}"]


def test_the_example_stacks_use_karpenter_for_their_pools_from_zero():
    for stack in ("dev", "staging", "prod"):
        for pool in plan_of(stack_config(stack)).pools:
            assert pool.provisioner == (KARPENTER if pool.min_size == 0 < pool.max_size else NODEGROUP), (stack, pool.name)
    prod = {p.name: p.provisioner for p in plan_of(stack_config("prod")).pools}
    assert prod["training-h100"] == prod["training-a100"] == prod["batch-a10g"] == KARPENTER


def test_a_karpenter_pool_needs_the_system_pool_for_its_controller():
    config = _config({"minSize": 0, "maxSize": 2})
    config["systemPool"] = {"enabled": False}
    problems = _problems(config)
    assert any(path == "nodePools[0].provisioner" and "systemPool.enabled" in text for path, text in problems), problems
    config["nodePools"][0]["provisioner"] = NODEGROUP
    assert plan_of(config).pools[0].provisioner == NODEGROUP


def test_a_karpenter_pool_needs_a_kubernetes_version_of_the_ami_release():
    """The release's AMIs exist for 1.30 to 1.36 (awslabs/amazon-eks-ami CHANGELOG.md, AMI Release v20260714)."""
    config = _config({"minSize": 0, "maxSize": 2})
    config["cluster"]["kubernetesVersion"] = "1.29"
    problems = _problems(config)
    assert any("v20260714" in text and "1.29" in text for _, text in problems), problems
    config["cluster"]["kubernetesVersion"] = "1.36"
    assert plan_of(config).pools[0].provisioner == KARPENTER


def test_a_mixed_mig_pool_is_a_node_group():
    """Karpenter launches a node for a pending pod only if an instance type offers what it requests (sigs.k8s.io/
    karpenter pkg/controllers/provisioning/scheduling); EC2's instance types offer nvidia.com/gpu, never the
    nvidia.com/mig-<profile> resources of MIG's mixed strategy."""
    mixed = {"minSize": 0, "maxSize": 2, "sharing": {"mode": "mig", "migStrategy": "mixed", "migProfiles": ["3g.40gb", "3g.40gb"]}}
    config = _config(mixed)
    config["nodePools"][0]["instanceTypes"] = ["p5.48xlarge"]
    assert plan_of(config).pools[0].provisioner == NODEGROUP
    config["nodePools"][0]["provisioner"] = KARPENTER
    problems = _problems(config)
    assert any(path == "nodePools[0].provisioner" and "nvidia.com/mig-*" in text for path, text in problems), problems
