"""The GitHub workflows users get: schema-valid, and consistent with the stacks and the command."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from fleet_fixtures import ROOT, STACKS

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def test_workflows_match_the_github_schema():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_offline_check_needs_no_secrets_and_covers_every_stack():
    text = (ROOT / ".github" / "workflows" / "offline-check.yml").read_text()
    assert "secrets." not in text
    assert load("offline-check.yml")["jobs"]["check"]["strategy"]["matrix"]["stack"] == STACKS


def test_previews_skip_forks_and_run_the_policy_pack():
    job = load("pulumi-preview.yml")["jobs"]["preview"]
    assert "head.repo.full_name == github.repository" in job["if"]
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["policyPacks"] == "policies" and pulumi["with"]["comment-on-pr"] is True


def test_deploys_run_in_order_behind_environments():
    jobs = load("pulumi-up.yml")["jobs"]
    assert jobs["staging"]["needs"] == "dev" and jobs["prod"]["needs"] == "staging"
    assert load("deploy-stack.yml")["jobs"]["up"]["environment"] == "${{ inputs.stack }}"


@pytest.mark.parametrize("stack", STACKS)
def test_policy_config_files_referenced_by_workflows_exist(stack):
    assert (ROOT / "policies" / "config" / f"{stack}.json").is_file()


CLOUD_WORKFLOWS = ["pulumi-preview.yml", "deploy-stack.yml", "drift.yml"]


@pytest.mark.parametrize("name", CLOUD_WORKFLOWS)
def test_cloud_jobs_read_region_and_cli_version_from_the_project(name):
    [job] = load(name)["jobs"].values()
    text = (ROOT / ".github" / "workflows" / name).read_text()
    assert "us-east-1" not in text  # the region is the stack's own aws:region
    settings = next(s for s in job["steps"] if s.get("id") == "stack")
    assert "scripts/stack-settings" in settings["run"] and settings["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"
    aws = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert aws["with"]["aws-region"] == "${{ steps.stack.outputs.region }}"
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["pulumi-version"] == "${{ steps.stack.outputs.pulumi }}"
    python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["cache"] == "pip"


def run_settings(stack: str, tmp_path, backend: str = "s3://state"):
    output = tmp_path / "github-output"
    output.write_text("")
    env = {"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "PULUMI_BACKEND_URL": backend}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "stack-settings"), stack], env=env,
                            capture_output=True, text=True)
    return result, output.read_text()


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_settings_are_the_stacks_region_and_the_sdk_pin(stack, tmp_path):
    result, output = run_settings(stack, tmp_path)
    assert result.returncode == 0, result.stderr
    region = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["aws:region"]
    pin = next(d for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"] if d.startswith("pulumi=="))
    assert output.splitlines() == [f"region={region}", f"pulumi={pin.removeprefix('pulumi==')}"]


def test_stack_settings_refuse_an_unset_backend(tmp_path):
    result, output = run_settings("dev", tmp_path, backend="")
    assert result.returncode != 0 and "PULUMI_BACKEND_URL" in result.stderr and output == ""


def test_drift_detection_runs_on_a_schedule_read_only_and_fails_on_drift():
    workflow = load("drift.yml")
    on = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads the key `on` as a boolean
    assert on["schedule"] and "workflow_dispatch" in on
    job = workflow["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == load("pulumi-preview.yml")["jobs"]["preview"]["strategy"]["matrix"]["stack"]
    text = (ROOT / ".github" / "workflows" / "drift.yml").read_text()
    assert "AWS_DEPLOY_ROLE_ARN" not in text and "AWS_PREVIEW_ROLE_ARN" in text
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["refresh"] is True and pulumi["with"]["expect-no-changes"] is True
    report = next(s for s in job["steps"] if s.get("name") == "Report the drifted objects")
    assert "failure()" in report["if"] and "${{" not in report["run"]  # expressions reach the shell as env only
