"""The plan's capacity report and the tenant-quota-within-capacity policy flag the same pool groups."""

from __future__ import annotations

import re

import pytest
from fleet_fixtures import STACKS, plan_of, spec_of, stack_config

from core.capacity import quota_capacity_groups
from gpufleet.check import evaluate
from gpufleet.offline import run_offline
from policies import BY_NAME

POLICY = "tenant-quota-within-capacity"
GROUP = re.compile(r"^pools \[(?P<pools>[^\]]*)\]:")


def policy_groups(config: dict, ratio: float) -> set[tuple[str, ...]]:
    run = run_offline(spec_of(config), "agreement")
    found = evaluate(run, {POLICY: {"oversubscriptionRatio": ratio}}, policies=[BY_NAME[POLICY]])
    return {tuple(GROUP.match(v["message"])["pools"].split(", ")) for v in found}


def plan_groups(config: dict, ratio: float) -> set[tuple[str, ...]]:
    return {g.pools for g in quota_capacity_groups(plan_of(config), ratio) if g.oversubscribed}


def oversubscribed(name: str) -> dict:
    """The stack with every tenant's quota above its pools' GPUs, and two shared tenants' pool sets
    made to overlap, so that their union is a group of its own."""
    config = stack_config(name)
    pools = {p["name"]: p for p in config["nodePools"]}
    tenants = config["tenants"]
    dedicated = {p for t in tenants if t.get("isolation") == "dedicated" for p in t["pools"]}
    shared = [t for t in tenants if t.get("isolation") != "dedicated" and not dedicated & set(t["pools"])]
    if len(shared) >= 2:
        first, second = shared[:2]
        second["pools"] = list(dict.fromkeys([*second["pools"], first["pools"][0]]))
        for tenant in (first, second):
            tenant["priority"] = "standard" if tenant.get("priority") == "critical" else tenant.get("priority", "standard")
    for i, tenant in enumerate(tenants):
        tenant["gpuQuota"] = 64 * sum(pools[p].get("maxSize", 1) for p in tenant["pools"]) + i
    return config


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize("ratio", [1.0, 2.0])
def test_example_stacks_agree(name, ratio):
    config = stack_config(name)
    assert policy_groups(config, ratio) == plan_groups(config, ratio)


@pytest.mark.parametrize("name", STACKS)
def test_oversubscribed_variants_agree(name):
    config = oversubscribed(name)
    flagged = plan_groups(config, 1.0)
    assert flagged, "the seeded variant oversubscribes some group"
    assert policy_groups(config, 1.0) == flagged
