"""GPU supply and the quota/capacity groups the tenant-quota-within-capacity policy relies on."""

from __future__ import annotations

import pytest
from fleet_fixtures import plan_of, stack_config

from core.capacity import capacity_report, gpu_supply, quota_capacity_groups
from core.facts import load_facts


def gpus(name: str) -> int:
    return load_facts().instance_types[name].gpus


def test_gpu_supply_per_model_and_capacity_type_at_max():
    spec = plan_of(stack_config("prod"))
    supply = {(s.gpu, s.capacity): s for s in gpu_supply(spec)}
    reserved = spec.pool("inference-h100").max_size + spec.pool("training-h100").max_size
    assert supply[("H100", "reserved")].at_max == reserved * gpus("p5.48xlarge")
    assert supply[("A100", "spot")].at_max == spec.pool("training-a100").max_size * gpus("p4d.24xlarge")
    # a pool of several sizes counts the GPUs every node has (the smallest type)
    a10g = spec.pool("batch-a10g")
    assert supply[("A10G", "spot")].at_max == a10g.max_size * min(gpus(t) for t in a10g.instance_types)


def _config(quotas: dict[str, tuple[int, list[str]]], max_sizes: dict[str, int]) -> dict:
    config = stack_config("prod")
    config["nodePools"] = [
        {"name": name, "instanceTypes": ["p4d.24xlarge"], "capacity": "spot", "workload": "training", "maxSize": size}
        for name, size in max_sizes.items()
    ]
    config["tenants"] = [{"name": n, "gpuQuota": q, "pools": p} for n, (q, p) in quotas.items()]
    return config


def test_ratio_is_confined_quota_over_gpus_and_flags_above_threshold():
    per_node = gpus("p4d.24xlarge")
    spec = plan_of(_config({"a": (per_node * 3, ["x"]), "b": (per_node, ["x", "y"])}, {"x": 2, "y": 1}))
    groups = {g.pools: g for g in quota_capacity_groups(spec)}
    only_x = groups[("x",)]
    assert only_x.tenants == ("a",)
    assert only_x.ratio == pytest.approx(3 / 2)
    assert only_x.oversubscribed
    both = groups[("x", "y")]
    assert both.tenants == ("a", "b") and both.quota == per_node * 4 and both.gpus_at_max == per_node * 3
    assert both.ratio == pytest.approx(4 / 3) and both.oversubscribed
    # a higher threshold (the policy's config ratio) accepts them
    assert not any(g.oversubscribed for g in quota_capacity_groups(spec, max_ratio=2.0))


def test_quota_exactly_at_capacity_is_not_flagged():
    per_node = gpus("p4d.24xlarge")
    spec = plan_of(_config({"a": (per_node * 2, ["x"])}, {"x": 2}))
    (group,) = quota_capacity_groups(spec)
    assert group.ratio == 1.0 and not group.oversubscribed


def test_overlapping_pool_sets_are_also_checked_together():
    per_node = gpus("p4d.24xlarge")
    spec = plan_of(_config({"a": (per_node * 2, ["x", "y"]), "b": (per_node * 2, ["y", "z"])}, {"x": 1, "y": 1, "z": 1}))
    groups = {g.pools: g for g in quota_capacity_groups(spec)}
    assert set(groups) == {("x", "y"), ("y", "z"), ("x", "y", "z")}
    assert not groups[("x", "y")].oversubscribed
    union = groups[("x", "y", "z")]
    assert union.tenants == ("a", "b") and union.ratio == pytest.approx(4 / 3) and union.oversubscribed


def test_capacity_report_shape():
    report = capacity_report(plan_of(stack_config("prod")))
    assert report["maxRatio"] == 1.0
    assert set(report["gpus"][0]) == {"gpu", "capacity", "pools", "min", "desired", "max"}
    assert set(report["groups"][0]) == {
        "pools", "tenants", "quota", "gpusAtMax", "gpusByModel", "sharedGpus", "ratio", "oversubscribed",
    }
