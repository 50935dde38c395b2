"""Reserved pools under Pulumi's mocks: what a node group and a Karpenter node class launch into.

Upstream: a managed node group on a Capacity Block has capacityType CAPACITY_BLOCK and a launch template with the
capacity-block market, the block's id as its reservation target and the instance type, and its subnets lie in the
reservation's zone (EKS user guide, capacity-blocks-mng); an ODCR group's launch template targets the reservation
(EC2 LaunchTemplateCapacityReservationSpecificationRequest: CapacityReservationTarget); a Karpenter node class names
reservations in capacityReservationSelectorTerms and a NodePool requires karpenter.sh/capacity-type reserved
(karpenter.sh docs, tasks/odcrs); no cluster placement group for a reserved EFA pool (terraform-aws-modules/
terraform-aws-eks PR 3730: a placement group the reservation was not made in fails its launches with
InsufficientInstanceCapacity).
"""

from __future__ import annotations

import pytest
from fleet_fixtures import stack_run
from test_aws_resources import LAUNCH_TEMPLATE, NODE_GROUP, PLACEMENT_GROUP, by_pool, node_group_run, of_type

from core.karpenter import CAPACITY_TYPE_LABEL
from gpufleet.offline import mock_id
from policies.resource_types import EC2_NODE_CLASS as NODE_CLASS
from policies.resource_types import NODE_POOL

SUBNET = "aws:ec2/subnet:Subnet"


def private_subnet_id(run, zone: str) -> str:
    [subnet] = [s for s in of_type(run, SUBNET) if s.name.endswith(f"-private-{zone}")]
    return mock_id(SUBNET, subnet.name)


@pytest.fixture(scope="module")
def groups_run():
    return node_group_run("prod")


def test_an_odcr_node_group_targets_its_reservation_on_demand_in_its_zone(groups_run):
    template = by_pool(groups_run, LAUNCH_TEMPLATE)["inference-h100"].inputs
    group = by_pool(groups_run, NODE_GROUP)["inference-h100"].inputs
    assert template["capacityReservationSpecification"] == {
        "capacityReservationTarget": {"capacityReservationId": "cr-0a1b2c3d4e5f60718"}}
    assert "instanceMarketOptions" not in template and "instanceType" not in template
    assert group["capacityType"] == "ON_DEMAND" and group["instanceTypes"] == ["p5.48xlarge"]
    assert group["subnetIds"] == [private_subnet_id(groups_run, "us-east-1a")]


def test_a_capacity_block_node_group_has_the_market_the_target_and_the_type(groups_run):
    template = by_pool(groups_run, LAUNCH_TEMPLATE)["training-h100"].inputs
    group = by_pool(groups_run, NODE_GROUP)["training-h100"].inputs
    assert template["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert template["capacityReservationSpecification"]["capacityReservationTarget"] == {
        "capacityReservationId": "cr-0f1e2d3c4b5a69788"}
    assert template["instanceType"] == "p5.48xlarge" and "instanceTypes" not in group
    assert group["capacityType"] == "CAPACITY_BLOCK"
    # Reserved and EFA: its zone's subnet, its EFA interfaces, no placement group.
    assert group["subnetIds"] == [private_subnet_id(groups_run, "us-east-1b")]
    assert len(template["networkInterfaces"]) == 32 and "placement" not in template


def test_other_pools_launch_templates_name_no_reservation(groups_run):
    templates = by_pool(groups_run, LAUNCH_TEMPLATE)
    for name in ("inference-l4", "training-a100", "batch-a10g"):
        assert "capacityReservationSpecification" not in templates[name].inputs
        assert "instanceMarketOptions" not in templates[name].inputs
    assert [p.name for p in of_type(groups_run, PLACEMENT_GROUP)] == ["gpufleet-prod-training-a100-efa"]


def test_a_reserved_karpenter_pool_selects_its_reservations_and_requires_reserved_capacity():
    run = stack_run("prod")
    classes = {c.inputs["metadata"]["name"]: c.inputs["spec"] for c in of_type(run, NODE_CLASS)}
    block = classes["training-h100"]
    assert block["capacityReservationSelectorTerms"] == [{"id": "cr-0f1e2d3c4b5a69788"}]
    assert "placementGroupSelector" not in block
    assert block["subnetSelectorTerms"] == [{"id": private_subnet_id(run, "us-east-1b")}]
    assert all("capacityReservationSelectorTerms" not in spec for name, spec in classes.items() if name != "training-h100")
    pools = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in of_type(run, NODE_POOL)}
    requirements = {r["key"]: r["values"] for r in pools["training-h100"]["template"]["spec"]["requirements"]}
    assert requirements[CAPACITY_TYPE_LABEL] == ["reserved"]
    assert [p.name for p in of_type(run, PLACEMENT_GROUP)] == ["gpufleet-prod-training-a100-efa"]


def test_a_reserved_node_group_updates_a_node_before_it_launches_its_replacement(groups_run):
    """EKS NodegroupUpdateConfig updateStrategy MINIMAL terminates old instances first ("useful in scenarios where you
    are constrained to resources"): a full reservation has no instance for the default's new nodes first."""
    groups = by_pool(groups_run, NODE_GROUP)
    for name in ("inference-h100", "training-h100"):
        assert groups[name].inputs["updateConfig"] == {"maxUnavailable": 1, "updateStrategy": "MINIMAL"}
    assert groups["inference-l4"].inputs["updateConfig"] == {"maxUnavailable": 1}
