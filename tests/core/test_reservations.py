"""Reserved pools: the spec's rules for reservations, what they cost, and when the plan warns before one ends.

Upstream behaviour these encode: ODCRs are "charged at the equivalent On-Demand rate whether you run instances in
reserved capacity or not" (EC2 user guide, capacity-reservations-pricing-billing); "All Capacity Blocks end at
11:30AM UTC" and a block holds one instance type (capacity-blocks-purchase); a managed node group's launch template
targets one reservation and its subnets lie in the reservation's zone (EKS user guide, capacity-blocks-mng);
Karpenter selects reservations by id or tags (EC2NodeClass capacityReservationSelectorTerms, whose id pattern the
spec uses) and drains a block's nodes 40 minutes before its end.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fleet_fixtures import plan_of, spec_of, stack_config

from core.cost import fleet_cost
from core.facts import load_facts
from core.reservations import DRAIN_BEFORE_END, reservation_statuses, reservations_report
from core.spec_loader import SpecError

FACTS = load_facts()
P5 = "p5.48xlarge"
BLOCK_END = datetime(2027, 1, 11, 11, 30, tzinfo=timezone.utc)


def reserved_config(provisioner: str = "karpenter", **reservation) -> dict:
    """prod with one more pool, reserved, and a tenant whose whole quota lies in it."""
    config = stack_config("prod")
    config["nodePools"].append({
        "name": "reserved", "instanceTypes": [P5], "capacity": "reserved", "workload": "training",
        "provisioner": provisioner, "minSize": 0, "maxSize": 2,
        "reservation": {"ids": ["cr-0123456789abcdef0"], "instances": 2, **reservation},
    })
    config["tenants"].append({"name": "holder", "gpuQuota": 16, "pools": ["reserved"]})
    return config


def block(**extra) -> dict:
    return {"type": "capacity-block", "start": "2026-12-28T11:30:00Z", "end": "2027-01-11T11:30:00Z", **extra}


def problems(config: dict) -> list[str]:
    with pytest.raises(SpecError) as error:
        spec_of(config)
    return [f"{path}: {message}" for path, message in error.value.problems]


# --- the spec -------------------------------------------------------------------------------------


POOL = "nodePools[5]"


@pytest.mark.parametrize(
    "change, path, expected",
    [
        (lambda p: p.pop("reservation"), "reservation", "required with capacity reserved"),
        (lambda p: p.update(capacity="on-demand"), "reservation", "only valid with capacity reserved"),
        (lambda p: p.update(maxSize=3), "maxSize", "3, but the reservations hold 2 instances"),
        (lambda p: p["reservation"].update(ids=["CR-1"]), "reservation.ids[0]", "is not a capacity reservation id"),
        (lambda p: p["reservation"].update(tags={"team": "fm"}), "reservation.ids", "by ids or by tags (exactly one"),
        (lambda p: p["reservation"].update(ids=[]), "reservation.ids", "by ids or by tags (exactly one of them)"),
        (lambda p: p["reservation"].update(ids=["cr-1", "cr-2", "cr-1"]), "reservation.ids[2]", "duplicate 'cr-1'"),
        (lambda p: p["reservation"].update(tags={"team": ""}, ids=[]), "reservation.tags", "empty tag keys or values"),
        (lambda p: p["reservation"].update(type="capacity-block"), "reservation.start", "required for a capacity-block"),
        (lambda p: p["reservation"].update(block(end="2027-01-11T12:00:00Z")), "reservation.end",
         "2027-01-11T12:00:00+00:00, but every Capacity Block ends at 11:30 UTC"),
        (lambda p: p["reservation"].update(block(start="2027-01-12T11:30:00Z")), "reservation.end", "is not after start"),
        (lambda p: p["reservation"].update(block(end="2027-01-11 11:30")), "reservation.end", "has no time zone"),
        (lambda p: p["reservation"].update(block(end="next tuesday")), "reservation.end", "'next tuesday' is not a time"),
        (lambda p: (p.update(instanceTypes=[P5, "p4d.24xlarge"]), p["reservation"].update(block())),
         "instanceTypes", "a capacity-block holds one instance type, got 2"),
        (lambda p: p["reservation"].update(availabilityZone="eu-west-1a"), "reservation.availabilityZone",
         "'eu-west-1a' is not one of cluster.vpc.availabilityZones"),
        (lambda p: p["reservation"].update(subnetIds=["subnet-1"]), "reservation.subnetIds",
         "only valid with an existing VPC"),
        (lambda p: p["reservation"].update(hourlyPrice=0), "reservation.hourlyPrice", "greater than 0"),
    ],
)
def test_bad_reservations_are_refused_by_field(change, path, expected):
    config = reserved_config()
    change(config["nodePools"][5])
    found = problems(config)
    assert any(problem.startswith(f"{POOL}.{path}: ") and expected in problem for problem in found), found


def test_a_reserved_node_group_targets_one_reservation_in_its_zone():
    config = reserved_config("nodegroup")
    assert any("reservation.availabilityZone: required for provisioner nodegroup" in p for p in problems(config))
    config["nodePools"][5]["reservation"].update(availabilityZone="us-east-1a", ids=["cr-1", "cr-2"])
    assert any("reservation.ids: a node group's launch template targets one reservation, got 2" in p
               for p in problems(config))
    config["nodePools"][5]["reservation"].update(ids=["cr-1"])
    config["nodePools"][5]["instanceTypes"] = [P5, "p4d.24xlarge"]
    assert any("instanceTypes: the one reservation a node group targets holds one instance type, got 2" in p
               for p in problems(config))
    config["nodePools"][5]["instanceTypes"] = [P5]
    config["nodePools"][5]["reservation"].update(ids=[], tags={"team": "fm"})
    assert any("reservation.tags: a node group's launch template targets one reservation by id" in p
               for p in problems(config))


def test_an_existing_vpc_names_the_zones_subnets():
    config = reserved_config("nodegroup", subnetIds=["subnet-9"])
    config["cluster"]["vpc"] = {"vpcId": "vpc-1", "subnetIds": ["subnet-1", "subnet-2"]}
    for pool in config["nodePools"][:5]:
        if "reservation" in pool:
            pool["reservation"].pop("availabilityZone")
            pool["reservation"]["subnetIds"] = ["subnet-1"]
    assert problems(config) == ["nodePools[5].reservation.subnetIds[0]: 'subnet-9' is not one of cluster.vpc.subnetIds"]
    config["nodePools"][5]["reservation"]["subnetIds"] = ["subnet-2"]
    assert plan_of(config).pool("reserved").reservation.subnet_ids == ["subnet-2"]


def test_times_are_read_from_text_and_kept_in_utc():
    reservation = spec_of(reserved_config(**block(end="2027-01-11T12:30:00+01:00"))).pool("reserved").reservation
    assert reservation.end == BLOCK_END and reservation.window_hours == 14 * 24
    assert reservation.end.utcoffset() == timedelta(0) and reservation.end.hour == 11
    [entry] = [r for r in reservations_report(reservation_statuses(plan_of(reserved_config(**block(
        end="2027-01-11T12:30:00+01:00"))), BLOCK_END)) if r["pool"] == "reserved"]
    assert entry["end"] == "2027-01-11T11:30:00Z"


def test_a_reserved_pool_of_an_existing_cluster_launches_nothing_anywhere():
    config = reserved_config(availabilityZone="us-east-1a")
    config["cluster"] = stack_config("local")["cluster"]
    for pool in config["nodePools"]:
        pool.pop("provisioner", None)  # nothing launches an existing cluster's nodes
        if pool["name"] != "reserved":
            pool.get("reservation", {}).pop("availabilityZone", None)
    assert problems(config) == [f"{POOL}.reservation.availabilityZone: only valid when cluster.mode is eks (the "
                                "fleet launches the nodes)"]


# --- cost -----------------------------------------------------------------------------------------


def test_an_odcr_is_paid_at_the_on_demand_rate_at_every_size():
    pool = fleet_cost(plan_of(reserved_config())).pool("reserved")
    on_demand = FACTS.instance_types[P5].on_demand_price
    for size in ("min", "desired", "max"):
        assert pool.paid_nodes(size) == 2
        assert pool.hourly(size) == pytest.approx(2 * on_demand)
    assert pool.nodes["min"] == 0 and not pool.estimate and pool.reservation_total is None


def test_a_capacity_block_costs_its_stated_price_over_its_window():
    pool = fleet_cost(plan_of(reserved_config(**block(hourlyPrice=30.0)))).pool("reserved")
    assert pool.hourly("min") == pytest.approx(60.0)
    assert pool.reservation_total == pytest.approx(60.0 * 14 * 24)
    assert pool.gpu_hourly == pytest.approx(30.0 / FACTS.instance_types[P5].gpus)


def test_a_capacity_block_without_a_price_is_unknown_never_the_on_demand_rate():
    cost = fleet_cost(plan_of(reserved_config(**block())))
    pool = cost.pool("reserved")
    assert not pool.known and pool.hourly("max") is None and pool.reservation_total is None
    assert "reservation.hourlyPrice" in pool.basis
    assert "reserved" in cost.unpriced_pools


# --- warnings -------------------------------------------------------------------------------------


def status_at(config: dict, as_of: datetime):
    return next(s for s in reservation_statuses(plan_of(config), as_of) if s.pool == "reserved")


def test_the_plan_warns_within_the_days_before_the_end_while_a_quota_depends_on_it():
    config = reserved_config(**block(warnDaysBeforeEnd=7))
    assert status_at(config, BLOCK_END - timedelta(days=7, seconds=1)).warning is None
    soon = status_at(config, BLOCK_END - timedelta(days=6))
    assert soon.state == "active" and soon.dependent_tenants == ("holder",)
    assert "ends 2027-01-11 11:30 UTC, in 6.0 days" in soon.warning and "holder" in soon.warning
    ended = status_at(config, BLOCK_END)
    assert ended.state == "ended" and "ended 2027-01-11 11:30 UTC" in ended.warning
    early = status_at(config, BLOCK_END - timedelta(days=20))  # the block starts 14 days before its end
    assert early.state == "scheduled" and "starts 2026-12-28 11:30 UTC" in early.warning


def test_no_warning_when_no_tenant_quota_lies_in_the_pool():
    config = reserved_config(**block())
    config["tenants"][-1]["pools"] = ["batch-a10g", "reserved"]  # its 16 GPUs fit first-fit in batch-a10g's idle 16
    status = status_at(config, BLOCK_END - timedelta(days=1))
    assert status.dependent_tenants == () and status.warning is None


def test_the_report_gives_the_window_and_when_nodes_are_drained():
    config = reserved_config(**block())
    [entry] = [r for r in reservations_report(reservation_statuses(plan_of(config), BLOCK_END - timedelta(days=3)))
               if r["pool"] == "reserved"]
    assert entry["ids"] == ["cr-0123456789abcdef0"] and entry["instances"] == 2
    assert entry["start"] == "2026-12-28T11:30:00Z" and entry["end"] == "2027-01-11T11:30:00Z"
    assert entry["drainedFrom"] == (BLOCK_END - DRAIN_BEFORE_END).isoformat().replace("+00:00", "Z")
    assert entry["hours"] == 336 and entry["daysLeft"] == 3 and entry["warning"]


@pytest.mark.parametrize("written", [
    "2027-01-11 11:30:00 +0000 UTC",          # the engine's text of an unquoted YAML time (Go's time.Time String())
    "2027-01-11 12:30:00.000000001 +0100 CET",
    "2027-01-11T11:30:00Z",                   # quoted, as written
])
def test_a_time_reads_the_same_from_the_engine_and_from_the_file(written):
    config = reserved_config(**block(end=written))
    assert spec_of(config).pool("reserved").reservation.end.replace(microsecond=0) == BLOCK_END


def test_the_file_reader_reads_unquoted_yaml_times_in_utc():
    from core import yaml_reader

    document = yaml_reader.load(b"end: 2027-01-11T11:30:00Z\nday: 2027-01-11\nbare: 2027-01-11 11:30:00\n")
    assert document == {"end": BLOCK_END, "day": BLOCK_END.replace(hour=0, minute=0),
                        "bare": BLOCK_END}
