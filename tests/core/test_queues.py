"""The queue decisions (core.queues): nominal split, cohorts, idle capacity, limits and ceilings."""

from __future__ import annotations

import pytest
from fleet_fixtures import plan_of, spec_of, stack_config

from core.names import EFA_RESOURCE, GPU_QUOTA_RESOURCE, GPU_RESOURCE
from core.queues import COHORT_SUFFIX, EFA_TOPOLOGY, UNLIMITED, fair_share_report, pool_capacity
from core.spec_loader import SpecError


def _config(tenants: list[dict], pools: dict[str, dict], **queues) -> dict:
    """prod's cluster with these pools (name -> overrides of a p4d.24xlarge spot training pool) and tenants."""
    config = stack_config("prod")
    config["nodePools"] = [
        {"name": name, "instanceTypes": ["p4d.24xlarge"], "capacity": "spot", "workload": "training", "maxSize": 2, **extra}
        for name, extra in pools.items()
    ]
    config["tenants"] = tenants
    config["queues"] = {"enabled": True, **queues}
    return config


def tenant(name: str, quota: int, pools: list[str], **extra) -> dict:
    return {"name": name, "gpuQuota": quota, "pools": pools, **extra}


def test_queues_off_leave_the_plan_as_before():
    config = stack_config("prod")
    config.pop("queues", None)
    plan = plan_of(config)
    assert plan.queues is None
    assert all(t.quota[GPU_QUOTA_RESOURCE] == str(t.gpu_quota) for t in plan.tenants)


def test_quota_is_split_first_fit_over_the_tenants_pools_in_spec_order():
    # x and y: 2 nodes x 8 A100 = 16 each. a takes 12 of x; b's 10 get x's last 4, then 6 of y; c's 20 overflow y.
    plan = plan_of(_config(
        [tenant("a", 12, ["x"]), tenant("b", 10, ["x", "y"]), tenant("c", 20, ["y"])], {"x": {}, "y": {}}
    ))
    queues = plan.queues
    assert queues.tenant("a").nominal("x") == 12
    assert (queues.tenant("b").nominal("x"), queues.tenant("b").nominal("y")) == (4, 6)
    assert queues.tenant("c").nominal("y") == 20  # what fits nowhere lands on its last pool (the policy reports it)


def test_one_cohort_per_connected_set_of_shared_pools_holding_the_idle_capacity():
    plan = plan_of(_config(
        [tenant("a", 4, ["x"]), tenant("b", 4, ["x", "y"]), tenant("c", 2, ["z"])], {"x": {}, "y": {}, "z": {"maxSize": 1}}
    ))
    queues = plan.queues
    (xy, z) = queues.cohorts
    assert (xy.name, xy.pools, xy.tenants) == (f"x{COHORT_SUFFIX}", ("x", "y"), ("a", "b"))
    assert (z.pools, z.tenants) == (("z",), ("c",))
    assert {t.tenant: t.cohort for t in queues.tenants} == {"a": xy.name, "b": xy.name, "c": z.name}
    # x: 16, a 4 + b 4 claimed; y: 16, none claimed; z: 8, c 2
    idle = {f.pool: f.nominal(GPU_RESOURCE) for c in queues.cohorts for f in c.idle}
    assert idle == {"x": 8, "y": 16, "z": 6}


def test_capacity_counts_the_units_pods_request():
    plan = plan_of(_config([tenant("a", 4, ["ts"]), tenant("b", 4, ["mig"])], {
        "ts": {"instanceTypes": ["g6.xlarge"], "workload": "inference", "capacity": "on-demand", "maxSize": 3,
               "sharing": {"mode": "time-slicing", "replicas": 4}},
        "mig": {"instanceTypes": ["p4d.24xlarge"], "sharing": {"mode": "mig", "migStrategy": "single", "migProfile": "3g.20gb"}},
    }))
    assert pool_capacity(plan.pool("ts")) == {GPU_RESOURCE: 3 * 1 * 4}  # nodes x GPUs x replicas
    assert pool_capacity(plan.pool("mig")) == {GPU_RESOURCE: 2 * 8 * 2}  # two 3g.20gb per A100


def test_limits_apply_per_pool_and_lending_never_exceeds_nominal():
    plan = plan_of(_config(
        [tenant("a", 20, ["x", "y"], queue={"borrowingLimit": 3, "lendingLimit": 6}), tenant("b", 2, ["y"])],
        {"x": {"efa": True}, "y": {}},
    ))
    a = plan.queues.tenant("a")
    quotas = {f.pool: {q.resource: q for q in f.quotas} for f in a.flavors}
    assert a.covered == (GPU_RESOURCE, EFA_RESOURCE)  # x has EFA: its devices go with the GPUs
    assert quotas["y"][EFA_RESOURCE].nominal == 0  # y has none, but every flavor lists every covered resource
    assert (quotas["x"][GPU_RESOURCE].nominal, quotas["y"][GPU_RESOURCE].nominal) == (16, 4)
    assert quotas["x"][GPU_RESOURCE].borrowing_limit == 3 and quotas["y"][GPU_RESOURCE].borrowing_limit == 3
    assert quotas["x"][GPU_RESOURCE].lending_limit == 6 and quotas["y"][GPU_RESOURCE].lending_limit == 4
    # EFA in proportion: p4d has 4 devices per 8 GPUs
    assert quotas["x"][EFA_RESOURCE].nominal == 8 and quotas["x"][EFA_RESOURCE].borrowing_limit == 2


def test_resource_quota_is_the_queue_ceiling():
    plan = plan_of(_config(
        [tenant("a", 8, ["x"], queue={"borrowingLimit": 4}), tenant("b", 8, ["x"]), tenant("c", 2, ["z"])],
        {"x": {"efa": True}, "z": {"maxSize": 1}},
    ))
    by_name = {t.name: t for t in plan.tenants}
    assert by_name["a"].quota[GPU_QUOTA_RESOURCE] == "12"  # nominal 8 + borrowing 4
    assert by_name["b"].quota[GPU_QUOTA_RESOURCE] == "16"  # no limit: at most the pool's 16
    assert by_name["c"].quota[GPU_QUOTA_RESOURCE] == "8"
    assert by_name["a"].quota[f"requests.{EFA_RESOURCE}"] == "6"  # 12 GPUs' worth of p4d EFA devices
    assert by_name["a"].gpu_quota == 8  # the spec's number is the nominal quota


def test_cpu_and_memory_are_queued_where_given_and_unbounded_otherwise():
    plan = plan_of(_config([tenant("a", 4, ["x"], cpuQuota=64, memoryQuota="256Gi"), tenant("b", 4, ["x"])], {"x": {}}))
    a, b = plan.queues.tenant("a"), plan.queues.tenant("b")
    assert (a.cpu, a.memory) == ("64", "256Gi")
    assert (b.cpu, b.memory) == (UNLIMITED["cpu"], UNLIMITED["memory"])


def test_flavors_carry_the_pool_label_and_tolerations_and_efa_pools_a_topology():
    plan = plan_of(_config([tenant("a", 4, ["x", "l4"])], {
        "x": {"efa": True}, "l4": {"instanceTypes": ["g6.xlarge"], "workload": "inference", "capacity": "on-demand"},
    }))
    flavors = {f.name: f for f in plan.queues.flavors}
    for name, flavor in flavors.items():
        assert flavor.node_labels == {"gpufleet.io/pool": name}
        assert list(flavor.tolerations) == plan.pool(name).tolerations
    assert flavors["x"].topology == EFA_TOPOLOGY and flavors["l4"].topology is None


def test_weight_must_be_positive():
    with pytest.raises(SpecError) as error:
        spec_of(_config([tenant("a", 4, ["x"], queue={"weight": 0})], {"x": {}}))
    assert "tenants[0].queue.weight" in str(error.value)


def test_fair_share_report_lists_every_tenant_pool_and_cohort():
    report = fair_share_report(plan_of(_config(
        [tenant("a", 4, ["x"], queue={"borrowingLimit": 2}), tenant("b", 4, ["x"])], {"x": {}}
    )).queues)
    assert report["tenants"][0]["pools"] == [{"pool": "x", "nominal": 4, "borrowingLimit": 2, "lendingLimit": None}]
    assert report["cohorts"] == [{"name": f"x{COHORT_SUFFIX}", "pools": ["x"], "tenants": ["a", "b"],
                                  "gpusAtMax": {"x": 16}, "idle": {"x": 8}}]
