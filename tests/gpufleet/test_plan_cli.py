"""gpufleet plan and render through the installed entry point."""

from __future__ import annotations

import json

import pytest
from fleet_fixtures import STACKS, stack_config, write_stack_file


@pytest.mark.parametrize("stack", STACKS)
def test_plan_json_reports_the_fleet(gpufleet, stack):
    result = gpufleet("plan", "--stack", stack, "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert {"resources", "nodePools", "tenants", "cost", "violations"} <= set(plan)
    config = stack_config(stack)
    assert [p["name"] for p in plan["nodePools"]] == [p["name"] for p in config["nodePools"]]
    assert [p["capacityType"] for p in plan["nodePools"]] == [
        "SPOT" if p.get("capacity") == "spot"
        else "CAPACITY_BLOCK" if p.get("reservation", {}).get("type") == "capacity-block" else "ON_DEMAND"
        for p in config["nodePools"]
    ]
    assert [t["name"] for t in plan["tenants"]] == [t["name"] for t in config["tenants"]]
    assert plan["resources"] == sum(plan["resourcesByType"].values()) > 0


def test_plan_of_any_config_file(gpufleet, tmp_path):
    config = stack_config("dev")
    config["nodePools"][0]["maxSize"] = 7
    path = write_stack_file(tmp_path / "Pulumi.pr-123.yaml", config, {"aws:region": "us-east-1"})
    result = gpufleet("plan", "--config", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["stack"] == "pr-123" and plan["nodePools"][0]["maxSize"] == 7


def test_plan_text_is_readable(gpufleet):
    result = gpufleet("plan", "--stack", "prod")
    assert result.returncode == 0
    assert "Node pools" in result.stdout and "training-h100" in result.stdout and "p5.48xlarge" in result.stdout


def test_invalid_config_exits_2_naming_the_path_without_traceback(gpufleet, tmp_path):
    config = stack_config("prod")
    config["nodePools"][1]["instanceTypes"][0] = "p9.huge"
    path = write_stack_file(tmp_path / "Pulumi.bad.yaml", config)
    for command in (["plan"], ["render", "--out", str(tmp_path / "out")]):
        result = gpufleet(*command, "--config", str(path))
        assert result.returncode == 2
        assert "nodePools[1].instanceTypes[0]: unknown GPU instance type 'p9.huge'" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_unknown_stack_and_bad_flags_exit_2(gpufleet):
    result = gpufleet("plan", "--stack", "nope")
    assert result.returncode == 2 and "unknown stack 'nope'" in result.stderr
    assert gpufleet("plan", "--format", "xml").returncode == 2
    assert gpufleet("plan", "--stack", "dev", "--config", "x.yaml").returncode == 2


def test_render_writes_user_data_and_ansible_vars(gpufleet, tmp_path):
    out = tmp_path / "out"
    result = gpufleet("render", "--stack", "prod", "--out", str(out))
    assert result.returncode == 0, result.stderr
    pools = [p["name"] for p in stack_config("prod")["nodePools"]]
    assert sorted(p.stem for p in (out / "user-data").iterdir()) == sorted(pools)
    assert sorted(p.stem for p in (out / "ansible-vars").iterdir()) == sorted(pools)
    vars_ = json.loads((out / "ansible-vars" / "training-h100.json").read_text())
    assert vars_["nvidia_fabric_manager_enabled"] is True


def test_plan_shows_fair_sharing_where_queues_are_on(gpufleet):
    result = gpufleet("plan", "--stack", "prod", "--format", "json")
    assert result.returncode == 0, result.stderr
    fair = json.loads(result.stdout)["fairSharing"]
    serving = next(t for t in fair["tenants"] if t["name"] == "search-serving")
    assert [p["pool"] for p in serving["pools"]] == ["inference-l4", "inference-h100"]
    assert sum(p["nominal"] for p in serving["pools"]) == 24 and {p["borrowingLimit"] for p in serving["pools"]} == {8}
    cohort = next(c for c in fair["cohorts"] if "search-serving" in c["tenants"])
    assert cohort["gpusAtMax"] == {"inference-l4": 10, "inference-h100": 32} and cohort["idle"]["inference-h100"] == 18
    text = gpufleet("plan", "--stack", "prod").stdout
    assert "Fair sharing (Kueue)" in text and "Cohorts:" in text and "inference-l4-cohort" in text
    markdown = gpufleet("plan", "--stack", "prod", "--format", "markdown").stdout
    assert "### Fair sharing (Kueue)" in markdown
    dev = json.loads(gpufleet("plan", "--stack", "dev", "--format", "json").stdout)
    assert "fairSharing" not in dev  # queues off
