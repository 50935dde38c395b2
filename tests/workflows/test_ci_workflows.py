"""The GitHub workflows users get: schema-valid, and consistent with the stacks and the command."""

from __future__ import annotations

import subprocess
import sys
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
