"""Which stack a command works on, as a newcomer meets it: the Pulumi project of the current
directory, its stackConfigDir and its per-stack policy config; --version and the exit codes in --help."""

from __future__ import annotations

import io
import json

from fleet_fixtures import ROOT, stack_config, write_stack_file

from gpufleet.targets import progress
from policies.tenancy import tenant_quota_within_capacity

QUOTA_POLICY = tenant_quota_within_capacity.name


def make_project(root, stack_dir="environments", **config):
    root.mkdir()
    (root / "Pulumi.yaml").write_text(f"name: mine\nruntime: python\nstackConfigDir: {stack_dir}\n")
    (root / stack_dir).mkdir()
    write_stack_file(root / stack_dir / "Pulumi.team.yaml", config or stack_config("dev"))
    return root


def test_stack_is_read_from_the_project_of_the_working_directory(gpufleet, tmp_path):
    project = make_project(tmp_path / "proj")
    nested = project / "sub" / "dir"
    nested.mkdir(parents=True)
    result = gpufleet("plan", "--stack", "team", "--format", "json", cwd=nested)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "team"
    missing = gpufleet("plan", "--stack", "prod", cwd=nested)
    assert missing.returncode == 2 and "unknown stack 'prod'" in missing.stderr and "team" in missing.stderr


def test_no_project_and_no_target_are_clear_errors(gpufleet, tmp_path):
    result = gpufleet("plan", "--stack", "dev", cwd=tmp_path)
    assert result.returncode == 2 and "no Pulumi project" in result.stderr and "--config" in result.stderr
    result = gpufleet("check", cwd=ROOT)
    assert result.returncode == 2 and "--stack ENV" in result.stderr and "Traceback" not in result.stderr


def test_plan_and_check_use_the_stacks_own_policy_config(gpufleet):
    """dev's quota oversubscribes its time-sliced pool 4:3; policies/config/dev.json allows 2:1."""
    plan = json.loads(gpufleet("plan", "--stack", "dev", "--format", "json", cwd=ROOT).stdout)
    assert not [v for v in plan["violations"] if v["policy"] == QUOTA_POLICY] and plan["capacity"]["maxRatio"] == 2.0
    check = gpufleet("check", "--stack", "dev", cwd=ROOT)
    assert check.returncode == 0 and "policy config:" in check.stdout and "(0 mandatory)" in check.stdout
    assert QUOTA_POLICY not in check.stdout
    explicit = gpufleet("check", "--stack", "dev", "--policy-config", str(ROOT / "policies" / "config" / "prod.json"), cwd=ROOT)
    assert explicit.returncode == 1 and "(1 mandatory)" in explicit.stdout and QUOTA_POLICY in explicit.stdout  # prod's: 1.0


def test_plan_text_lists_the_violations(gpufleet, tmp_path):
    config = stack_config("dev")
    config["tenants"][0]["gpuQuota"] = 40
    path = write_stack_file(tmp_path / "Pulumi.over.yaml", config)
    text = gpufleet("plan", "--config", str(path), cwd=tmp_path).stdout
    assert "Policy violations: " in text and "(0 mandatory)" in text and QUOTA_POLICY in text


def test_version_and_exit_codes_in_help(gpufleet):
    version = gpufleet("--version")
    assert version.returncode == 0 and version.stdout.startswith("gpufleet ")
    for command in ([], ["plan"], ["render"]):
        assert "2 invalid input" in gpufleet(*command, "--help").stdout


def test_json_errors_are_json(gpufleet, tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text("config:\n  gpu-fleet:tenants: []\n  gpu-fleet:tenants: []\n")
    result = gpufleet("plan", "--config", str(path), "--format", "json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert "duplicate key" in report["error"] and report["problems"][0]["file"] == str(path)


def test_progress_goes_to_a_terminal_only():
    class Stream(io.StringIO):
        def __init__(self, tty):
            super().__init__()
            self.tty = tty

        def isatty(self):
            return self.tty

    terminal, pipe = Stream(True), Stream(False)
    progress("working", terminal)
    progress("working", pipe)
    assert terminal.getvalue() == "working\n" and pipe.getvalue() == ""
