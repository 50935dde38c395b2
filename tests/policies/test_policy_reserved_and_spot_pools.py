"""reserved-pools-unplaced and spot-pools-diversified, on what the program renders for prod (both provisioners:
fleet_fixtures.node_group_config makes every pool a node group), one change per case.

reserved-pools-unplaced: a placement group the reservation was not made in fails reserved launches with
InsufficientInstanceCapacity (terraform-aws-modules/terraform-aws-eks PR 3730), and Karpenter applies a node class's
placementGroupSelector to every launch, reserved ones too (karpenter-provider-aws pkg/providers/launchtemplate).
spot-pools-diversified: EKS managed node groups launch spot price-capacity-optimized and recommend several instance
types (EKS user guide, managed-node-groups, capacity types); so does Karpenter (pkg/providers/instance/types.go).
"""

from __future__ import annotations

import pytest
from fleet_fixtures import node_group_config, spec_of, stack_run
from policy_fixtures import DELETE, edited, messages

from gpufleet.offline import run_offline
from policies.resource_types import EC2_NODE_CLASS as NODE_CLASS
from policies.resource_types import LAUNCH_TEMPLATE, NODE_GROUP, NODE_POOL

UNPLACED = "reserved-pools-unplaced"
DIVERSIFIED = "spot-pools-diversified"


@pytest.fixture(scope="module")
def groups():
    return run_offline(spec_of(node_group_config("prod")), "prod").custom_resources


def named(resources, type_: str, suffix: str):
    return next(r for r in resources if r.type == type_ and r.name.endswith(suffix))


def test_what_the_program_renders_passes(groups):
    assert messages(UNPLACED, *groups) == [] and messages(DIVERSIFIED, *groups) == []
    assert messages(UNPLACED, *stack_run("prod").custom_resources) == []


def test_a_reserved_launch_template_with_a_placement_group_fails(groups):
    reserved = named(groups, LAUNCH_TEMPLATE, "-training-h100")
    placed = edited(reserved, ("placement",), {"groupName": "gpufleet-prod-efa"})
    assert any("targets a capacity reservation and a placement group" in m for m in messages(UNPLACED, placed))
    by_id = edited(reserved, ("placement",), {"groupId": "pg-0123456789abcdef0"})
    assert any("targets a capacity reservation and a placement group" in m for m in messages(UNPLACED, by_id))
    # Without the reservation target the placement group is what an EFA pool wants (training-a100's).
    assert messages(UNPLACED, edited(placed, ("capacityReservationSpecification",), DELETE)) == []
    assert "placement" in named(groups, LAUNCH_TEMPLATE, "-training-a100").inputs


def test_a_reserved_node_class_with_a_placement_group_fails():
    reserved = named(stack_run("prod").custom_resources, NODE_CLASS, "-training-h100-nodeclass")
    placed = edited(reserved, ("spec", "placementGroupSelector"), {"name": "gpufleet-prod-efa"})
    assert any("capacity reservations" in m and "placementGroupSelector" in m for m in messages(UNPLACED, placed))
    assert messages(UNPLACED, edited(placed, ("spec", "capacityReservationSelectorTerms"), DELETE)) == []


def test_a_spot_pool_of_one_instance_type_is_advised_to_list_more(groups):
    node_group = named(groups, NODE_GROUP, "-training-a100")
    (message,) = messages(DIVERSIFIED, edited(node_group, ("instanceTypes",), ["p4d.24xlarge"]))
    assert "pool 'training-a100' is spot capacity of one instance type (p4d.24xlarge)" in message
    node_pool = named(stack_run("prod").custom_resources, NODE_POOL, "-training-a100")
    requirements = node_pool.inputs["spec"]["template"]["spec"]["requirements"]
    one = edited(node_pool, ("spec", "template", "spec", "requirements", 0, "values"), ["p4d.24xlarge"])
    assert requirements[0]["key"] == "node.kubernetes.io/instance-type" and len(messages(DIVERSIFIED, one)) == 1
    # On-demand and reserved pools of one type are fine (prod's inference-h100 and training-h100).
    assert messages(DIVERSIFIED, named(groups, NODE_GROUP, "-training-h100")) == []


def test_the_pack_reads_reserved_capacity_from_both_provisioners(groups):
    """A node group's CAPACITY_BLOCK (or an ON_DEMAND group labelled reserved: an ODCR's), a NodePool that requires
    capacity type reserved only."""
    from policies.observed_fleet import pools_of_resource

    def capacity(resource) -> str:
        (pool,) = pools_of_resource(resource.type, resource.inputs, resource.urn, resource.name)
        return pool.capacity

    assert capacity(named(groups, NODE_GROUP, "-training-h100")) == "reserved"  # CAPACITY_BLOCK
    assert capacity(named(groups, NODE_GROUP, "-inference-h100")) == "reserved"  # ON_DEMAND, labelled reserved
    assert capacity(named(groups, NODE_GROUP, "-inference-l4")) == "on-demand"
    node_pool = named(stack_run("prod").custom_resources, NODE_POOL, "-training-h100")
    assert capacity(node_pool) == "reserved"
    index = next(i for i, r in enumerate(node_pool.inputs["spec"]["template"]["spec"]["requirements"])
                 if r["key"] == "karpenter.sh/capacity-type")
    path = ("spec", "template", "spec", "requirements", index, "values")
    assert capacity(edited(node_pool, path, ["reserved", "on-demand"])) == "on-demand"
    assert capacity(edited(node_pool, path, ["reserved", "spot"])) == "spot"
