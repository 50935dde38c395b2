"""`gpufleet plan` cost, capacity and --compare-to through the installed console script."""

from __future__ import annotations

import json

import pytest
from fleet_fixtures import stack_config, write_stack_file

from core.cost import HOURS_PER_MONTH
from core.facts import load_facts

FACTS = load_facts()
# training-a100's node: its dearest type at the spot estimate.
SPOT_A100_NODE = max(FACTS.instance_types[t].on_demand_price for t in ("p4d.24xlarge", "p4de.24xlarge")) * (
    1 - FACTS.prices.spot_discount_estimate)


@pytest.fixture
def bigger_prod(tmp_path):
    """prod with two more nodes at max in the spot A100 training pool, and one pool more."""
    config = stack_config("prod")
    pool = next(p for p in config["nodePools"] if p["name"] == "training-a100")
    pool["maxSize"] += 2
    config["nodePools"].append(
        {"name": "extra-l4", "instanceTypes": ["g6.xlarge"], "workload": "inference", "minSize": 1, "maxSize": 1}
    )
    return write_stack_file(tmp_path / "Pulumi.bigger.yaml", config)


def test_compare_to_shows_cost_and_resource_delta_in_json(gpufleet, bigger_prod):
    result = gpufleet("plan", "--config", str(bigger_prod), "--compare-to", "prod", "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    compare = plan["compare"]
    assert compare["base"] == "prod" and compare["head"] == "bigger"
    spot_node = SPOT_A100_NODE
    l4_node = FACTS.instance_types["g6.xlarge"].on_demand_price
    pools = {p["name"]: p for p in compare["cost"]["pools"]}
    assert pools["training-a100"]["status"] == "changed"
    assert pools["training-a100"]["max"]["delta"] == pytest.approx(2 * spot_node * HOURS_PER_MONTH, abs=0.02)
    assert pools["training-a100"]["desired"]["delta"] == 0
    assert pools["extra-l4"]["status"] == "added"
    assert pools["extra-l4"]["desired"]["delta"] == pytest.approx(l4_node * HOURS_PER_MONTH, abs=0.02)
    total = compare["cost"]["total"]
    assert total["max"]["delta"] == pytest.approx((2 * spot_node + l4_node) * HOURS_PER_MONTH, abs=0.05)
    assert total["complete"] is True
    by_type = {r["type"]: r for r in compare["resourcesByType"]}
    assert by_type["aws:eks/nodeGroup:NodeGroup"]["delta"] == 1
    assert compare["resources"]["delta"] == plan["resources"] - compare["resources"]["base"] > 0
    # the plan's own cost and capacity sections are there too
    assert {"cost", "capacity", "resources", "nodePools", "tenants", "violations"} <= set(plan)
    assert plan["cost"]["total"]["max"]["monthly"] == pytest.approx(total["max"]["head"], abs=0.01)


def test_compare_to_in_text_and_markdown(gpufleet, bigger_prod):
    text = gpufleet("plan", "--config", str(bigger_prod), "--compare-to", "prod")
    assert text.returncode == 0, text.stderr
    spot_node = SPOT_A100_NODE
    delta = f"+${2 * spot_node * HOURS_PER_MONTH:,.2f}"
    assert "Cost change" in text.stdout and delta in text.stdout
    assert "ESTIMATES" in text.stdout and FACTS.prices.source.read in text.stdout
    markdown = gpufleet("plan", "--config", str(bigger_prod), "--compare-to", "prod", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("## gpu-fleet plan: `bigger`")
    row = next(line for line in markdown.stdout.splitlines() if line.startswith("| training-a100 | changed"))
    assert row.count("|") == 9 and delta in row


def test_unknown_price_prints_unknown_and_capacity_flag(gpufleet, tmp_path):
    config = stack_config("prod")
    config["nodePools"].append(
        {"name": "h200", "instanceTypes": ["p5e.48xlarge"], "workload": "training", "minSize": 0, "maxSize": 1}
    )
    config["tenants"].append({"name": "greedy", "gpuQuota": 100, "pools": ["h200"]})
    path = write_stack_file(tmp_path / "Pulumi.h200.yaml", config)
    result = gpufleet("plan", "--config", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    cost_lines = lines[lines.index("Cost per pool ($/month at min, desired and max size)") :]
    row = next(line for line in cost_lines if line.startswith("h200 "))
    assert row.split()[2:] == ["karpenter", "-"] + ["unknown"] * 5
    assert any(line.startswith("Unknown price: h200 (") for line in cost_lines)
    flagged = next(line for line in cost_lines if line.startswith("h200") and "greedy" in line)
    assert "OVER 1" in flagged
    missing = gpufleet("plan", "--config", str(path), "--compare-to", "no-such-stack")
    assert missing.returncode == 2 and "unknown stack 'no-such-stack'" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize("region, says_so", [("eu-west-1", True), ("us-east-1", False)])
def test_the_plan_names_the_region_priced_and_a_stack_elsewhere(gpufleet, tmp_path, region, says_so):
    path = write_stack_file(tmp_path / "Pulumi.away.yaml", stack_config("dev"), extra={"aws:region": region})
    data = json.loads(gpufleet("plan", "--config", str(path), "--format", "json").stdout)
    assert data["cost"]["region"] == FACTS.prices.region == "us-east-1"
    assert data["cost"]["stackRegion"] == region
    text = gpufleet("plan", "--config", str(path)).stdout
    assert "Prices: us-east-1 on-demand" in text
    assert (f"The stack deploys to {region} (aws:region)" in text) is says_so


def test_the_plan_says_what_launches_each_pool(gpufleet):
    data = json.loads(gpufleet("plan", "--stack", "prod", "--format", "json").stdout)
    launched = {p["name"]: p["provisioner"] for p in data["cost"]["pools"]}
    assert launched == {"inference-l4": "nodegroup", "inference-h100": "nodegroup", "training-h100": "karpenter",
                        "training-a100": "karpenter", "batch-a10g": "karpenter"}
    assert {p["name"]: p.get("provisioner") for p in data["nodePools"]} == launched
    lines = gpufleet("plan", "--stack", "prod").stdout.splitlines()
    header = next(line for line in lines if line.startswith("pool ") and "launched by" in line)
    row = next(line for line in lines if line.startswith("training-h100 ") and "$" in line)
    assert row[header.index("launched by"):].split()[0] == "karpenter"
    # Idle, a Karpenter pool costs nothing: at min and desired size it has no node; a reserved one costs its
    # reservation at every size, used or not.
    pools = {p["name"]: p for p in data["cost"]["pools"]}
    spot = pools["training-a100"]
    assert spot["min"]["monthly"] == spot["desired"]["monthly"] == 0 < spot["max"]["monthly"]
    reserved = pools["training-h100"]
    assert reserved["min"]["nodes"] == 0 and reserved["min"]["paidNodes"] == 8
    assert reserved["min"]["monthly"] == reserved["desired"]["monthly"] == reserved["max"]["monthly"] > 0
