"""Cost math against the facts file's own prices (no hard-coded dollar figures)."""

from __future__ import annotations

import pytest
from fleet_fixtures import plan_of, spec_of, stack_config

from core.cost import HOURS_PER_MONTH, cost_report, fleet_cost
from core.facts import load_facts
from core.spec_loader import SpecError

FACTS = load_facts()


def price(name: str) -> float:
    value = FACTS.instance_types[name].on_demand_price
    assert value is not None
    return value


def one_pool_config(**pool) -> dict:
    config = stack_config("prod")
    config["nodePools"] = [{"name": "only", "minSize": 1, "desiredSize": 2, "maxSize": 5, **pool}]
    config["tenants"] = [{"name": "team", "gpuQuota": 8, "pools": ["only"]}]
    return config


def test_on_demand_pool_costs_price_times_nodes_at_each_size():
    cost = fleet_cost(plan_of(one_pool_config(instanceTypes=["p5.48xlarge"], capacity="on-demand")))
    pool = cost.pool("only")
    assert not pool.estimate
    for size, nodes in (("min", 1), ("desired", 2), ("max", 5)):
        assert pool.hourly(size) == pytest.approx(price("p5.48xlarge") * nodes)
        assert pool.monthly(size) == pytest.approx(price("p5.48xlarge") * nodes * HOURS_PER_MONTH)
    assert pool.gpu_hourly == pytest.approx(price("p5.48xlarge") / FACTS.instance_types["p5.48xlarge"].gpus)
    assert HOURS_PER_MONTH == 730


def test_mixed_type_pool_is_priced_at_its_most_expensive_type():
    cost = fleet_cost(plan_of(one_pool_config(instanceTypes=["g5.24xlarge", "g5.12xlarge"], capacity="on-demand")))
    pool = cost.pool("only")
    dearest = max(("g5.12xlarge", "g5.24xlarge"), key=price)
    assert pool.priced_type.name == dearest
    assert pool.node_hourly == pytest.approx(price(dearest))
    assert "most expensive" in pool.basis


def test_spot_pool_is_an_estimate_from_the_facts_discount():
    cost = fleet_cost(plan_of(one_pool_config(instanceTypes=["p4d.24xlarge"], capacity="spot", workload="training")))
    pool = cost.pool("only")
    discount = FACTS.prices.spot_discount_estimate
    assert pool.estimate
    assert cost.spot_discount == discount and cost.spot_discount_from == "facts"
    assert pool.node_hourly == pytest.approx(price("p4d.24xlarge") * (1 - discount))
    report = cost_report(cost)
    assert report["pools"][0]["pricing"] == "spot-estimate"
    assert report["pools"][0]["estimate"] is True
    assert report["total"]["includesEstimates"] is True


def test_spot_discount_is_overridable_in_config():
    config = one_pool_config(instanceTypes=["p4d.24xlarge"], capacity="spot", workload="training")
    config["cost"] = {"spotDiscount": 0.25}
    cost = fleet_cost(plan_of(config))
    assert cost.spot_discount_from == "config"
    assert cost.pool("only").node_hourly == pytest.approx(price("p4d.24xlarge") * 0.75)


@pytest.mark.parametrize("bad", [1.0, -0.1, "lots"])
def test_spot_discount_out_of_range_is_a_spec_error(bad):
    config = one_pool_config(instanceTypes=["p4d.24xlarge"], capacity="spot", workload="training")
    config["cost"] = {"spotDiscount": bad}
    with pytest.raises(SpecError, match=r"cost\.spotDiscount"):
        spec_of(config)


def test_unknown_cost_key_is_rejected():
    config = one_pool_config(instanceTypes=["g6.xlarge"])
    config["cost"] = {"spotDiscont": 0.5}
    with pytest.raises(SpecError, match=r"cost\.spotDiscont: unknown key"):
        spec_of(config)


def test_unknown_price_is_unknown_never_zero():
    assert FACTS.instance_types["p5e.48xlarge"].on_demand_price is None
    config = one_pool_config(instanceTypes=["p5e.48xlarge"], capacity="on-demand")
    config["nodePools"].append({"name": "priced", "instanceTypes": ["g6.xlarge"], "minSize": 1, "maxSize": 2})
    cost = fleet_cost(plan_of(config))
    pool = cost.pool("only")
    assert pool.node_hourly is None and pool.hourly("max") is None and pool.gpu_hourly is None
    report = cost_report(cost)
    entry = report["pools"][0]
    assert entry["pricing"] == "unknown"
    assert entry["unpricedTypes"] == ["p5e.48xlarge"]
    assert entry["max"]["hourly"] is None and entry["max"]["monthly"] is None
    assert report["total"]["complete"] is False
    assert report["total"]["unpricedPools"] == ["only"]
    assert report["total"]["max"]["hourly"] == pytest.approx(price("g6.xlarge") * 2)
    tenant = report["tenants"][0]
    assert tenant["unpricedPools"] == ["only"] and tenant["hourly"] == {"min": None, "max": None}


def test_environment_total_sums_the_pools_of_prod():
    """prod at max size, written out: on-demand and spot pools at their dearest type, the ODCR pool's two p5 at the
    on-demand rate, the Capacity Block's eight p5 at its stated 31.464 for its 672-hour window (a month of it)."""
    cost = fleet_cost(plan_of(stack_config("prod")))
    spot = 1 - FACTS.prices.spot_discount_estimate
    hourly = {
        "inference-l4": 10 * price("g6.2xlarge"),
        "inference-h100": 2 * price("p5.48xlarge"),
        "training-h100": 8 * 31.464,
        "training-a100": 4 * price("p4de.24xlarge") * spot,
        "batch-a10g": 6 * price("g5.24xlarge") * spot,
    }
    assert {p.pool: p.hourly("max") for p in cost.pools} == pytest.approx(hourly)
    assert cost.total_hourly("max") == pytest.approx(sum(hourly.values()))
    monthly = sum(hourly.values()) * HOURS_PER_MONTH - hourly["training-h100"] * (HOURS_PER_MONTH - 672)
    assert cost_report(cost)["total"]["max"]["monthly"] == pytest.approx(monthly, abs=0.01)


def test_tenant_quota_cost_ranges_over_its_pools_gpu_hour_prices():
    spec = plan_of(stack_config("prod"))
    tenant = next(t for t in fleet_cost(spec).tenants if t.tenant == "search-serving")
    rates = []
    for name in ("inference-l4", "inference-h100"):
        pool = spec.pool(name)
        dearest = max(pool.instance_types, key=price)
        # per unit of quota: a GPU, or one MIG instance of it (inference-h100 is a MIG pool)
        rates.append(price(dearest) / FACTS.instance_types[dearest].gpus / (len(pool.mig_devices) or 1))
    assert tenant.gpu_hourly_min == pytest.approx(min(rates))
    assert tenant.gpu_hourly_max == pytest.approx(max(rates))
    assert tenant.hourly("min") == pytest.approx(min(rates) * tenant.gpu_quota)
    assert tenant.monthly("max") == pytest.approx(max(rates) * tenant.gpu_quota * HOURS_PER_MONTH)
    assert not tenant.estimate  # both pools are on-demand


def test_report_names_price_source_and_date():
    report = cost_report(fleet_cost(plan_of(stack_config("dev"))))
    assert report["priceSource"] == {"source": FACTS.prices.source.source, "date": FACTS.prices.source.read}
    assert report["currency"] == FACTS.prices.currency and report["hoursPerMonth"] == HOURS_PER_MONTH
    assert report["mixedTypePricing"] == "most-expensive"


def test_a_mig_tenants_quota_is_priced_per_instance():
    """On a MIG pool a unit of quota is one GPU instance (the device plugin's unit), not a GPU."""
    config = stack_config("dev")
    config["nodePools"].append({"name": "h100-mig", "instanceTypes": ["p5.48xlarge"], "workload": "inference",
                                "minSize": 0, "maxSize": 2, "driverVersion": "570.133.20",
                                "sharing": {"mode": "mig", "migProfile": "3g.40gb"}})
    config["tenants"].append({"name": "slices", "gpuQuota": 4, "pools": ["h100-mig"]})
    cost = fleet_cost(plan_of(config))
    pool = cost.pool("h100-mig")
    assert pool.devices_per_gpu == 2 and pool.unit_hourly == pytest.approx(pool.gpu_hourly / 2)
    tenant = next(t for t in cost.tenants if t.tenant == "slices")
    assert tenant.hourly("max") == pytest.approx(4 * pool.gpu_hourly / 2)
