"""gpufleet check through the installed console script: exit codes, JSON shape, policy config."""

import json

import pytest
from fleet_fixtures import ROOT, STACKS, stack_config, write_stack_file


def check_json(gpufleet, *args):
    result = gpufleet("check", *args, "--format", "json")
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


@pytest.mark.parametrize("stack", STACKS)
def test_example_stack_has_no_mandatory_violation(gpufleet, stack):
    result, report = check_json(gpufleet, "--stack", stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["resources"] > 0
    assert not [v for v in report["violations"] if v["level"] == "mandatory"]


def seeded_bad(stack: str) -> dict:
    """The stack with its first tenant declaring CUDA 13.0, which its 570 driver cannot run."""
    config = stack_config(stack)
    config["tenants"][0]["cudaVersions"] = ["13.0"]
    return config


@pytest.mark.parametrize("stack", STACKS)
def test_seeded_bad_variant_fails(gpufleet, tmp_path, stack):
    path = write_stack_file(tmp_path / f"Pulumi.{stack}-bad.yaml", seeded_bad(stack))
    # The stack's own policy config, as --stack would use it (the local stack's says its cluster has no CNI).
    result, report = check_json(gpufleet, "--config", str(path), "--policy-config", str(ROOT / "policies" / "config" / f"{stack}.json"))
    assert result.returncode == 1, result.stdout + result.stderr
    bad = [v for v in report["violations"] if v["level"] == "mandatory"]
    assert {v["policy"] for v in bad} == {"driver-supports-cuda"}
    assert all(set(v) == {"policy", "level", "resource", "message"} for v in report["violations"])


def cuda_128_on_550(tmp_path):
    config = stack_config("dev")
    config["drivers"]["version"] = "550.54.14"
    config["tenants"][0]["cudaVersions"] = ["12.8"]
    return write_stack_file(tmp_path / "Pulumi.old-driver.yaml", config)


def test_cuda_128_tenant_on_550_driver_fails_then_passes_with_minor_version_compat(gpufleet, tmp_path):
    path = cuda_128_on_550(tmp_path)
    result = gpufleet("check", "--config", str(path))
    assert result.returncode == 1
    assert "driver-supports-cuda" in result.stdout and "570.26" in result.stdout
    policy_config = tmp_path / "policy.json"
    policy_config.write_text(json.dumps({"driver-supports-cuda": {"allowMinorVersionCompatibility": True}}))
    result, report = check_json(gpufleet, "--config", str(path), "--policy-config", str(policy_config))
    assert result.returncode == 0, result.stdout
    assert not [v for v in report["violations"] if v["policy"] == "driver-supports-cuda"]


@pytest.mark.parametrize("setting", ["advisory", {"enforcementLevel": "disabled"}])
def test_lowered_level_does_not_fail(gpufleet, tmp_path, setting):
    policy_config = tmp_path / "policy.json"
    policy_config.write_text(json.dumps({"driver-supports-cuda": setting}))
    result = gpufleet("check", "--config", str(cuda_128_on_550(tmp_path)), "--policy-config", str(policy_config))
    assert result.returncode == 0, result.stdout


def test_all_level_applies_to_every_policy(gpufleet, tmp_path):
    policy_config = tmp_path / "policy.json"
    policy_config.write_text(json.dumps({"all": "advisory"}))
    result, report = check_json(gpufleet, "--config", str(cuda_128_on_550(tmp_path)), "--policy-config", str(policy_config))
    assert result.returncode == 0
    assert report["violations"] and {v["level"] for v in report["violations"]} == {"advisory"}


@pytest.mark.parametrize(
    "content, named",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"no-such-policy": "mandatory"}), "no-such-policy"),
        (json.dumps({"driver-supports-cuda": "sometimes"}), "sometimes"),
        (json.dumps({"driver-supports-cuda": {"allowMinor": True}}), "allowMinor"),
        (json.dumps({"driver-supports-cuda": {"allowMinorVersionCompatibility": "yes"}}), "allowMinorVersionCompatibility"),
        (json.dumps(["driver-supports-cuda"]), "JSON object"),
    ],
)
def test_bad_policy_config_exits_2_naming_the_problem(gpufleet, tmp_path, content, named):
    policy_config = tmp_path / "policy.json"
    policy_config.write_text(content)
    result = gpufleet("check", "--stack", "dev", "--policy-config", str(policy_config))
    assert result.returncode == 2
    assert named in result.stderr and "--policy-config" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_policy_config_file_exits_2(gpufleet, tmp_path):
    result = gpufleet("check", "--stack", "dev", "--policy-config", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "nope.json" in result.stderr


def test_text_output_groups_by_resource(gpufleet, tmp_path):
    result = gpufleet("check", "--config", str(cuda_128_on_550(tmp_path)))
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("kubernetes:core/v1:Namespace"))
    assert lines[header + 1].lstrip().startswith("[mandatory] driver-supports-cuda:")
    assert lines[-1].startswith("FAIL:")


def test_plan_reports_the_same_violations(gpufleet, tmp_path):
    path = cuda_128_on_550(tmp_path)
    plan = json.loads(gpufleet("plan", "--config", str(path), "--format", "json").stdout)
    _, report = check_json(gpufleet, "--config", str(path))
    assert plan["violations"] == report["violations"] and plan["violations"]


def test_unknown_stack_exits_2(gpufleet):
    assert gpufleet("check", "--stack", "nope").returncode == 2
