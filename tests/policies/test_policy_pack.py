"""The pack as a whole: names and default levels are DESIGN.md's contract, metadata is complete,
__main__.py assembles exactly ALL."""

import re
import runpy
from pathlib import Path

import pytest
import yaml
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

import policies

ROOT = Path(__file__).resolve().parents[2]
DESIGN = Path("/work/shared/DESIGN.md")

# DESIGN.md, "The policy pack contract": names are a user interface; these defaults are binding.
CONTRACT = {
    "driver-supports-cuda": "mandatory",
    "driver-supports-gpu": "mandatory",
    "versions-pinned": "mandatory",
    "mig-capable-gpu": "mandatory",
    "gpu-nodes-tainted": "mandatory",
    "spot-pools-tainted": "mandatory",
    "no-inference-on-spot": "mandatory",
    "tenant-has-gpu-quota": "mandatory",
    "tenant-quota-within-capacity": "advisory",
    "tenant-rbac-scoped": "mandatory",
    "tenant-network-isolated": "mandatory",
    "tenant-pod-security": "mandatory",
    "imdsv2-required": "mandatory",
    "ebs-encrypted": "mandatory",
}
ADDITIONS = {
    "no-mps-sharing": "mandatory",
    "images-from-allowed-registries": "mandatory",
    "node-user-data-matches-pool": "mandatory",
    "container-toolkit-patched": "mandatory",
    "network-policy-enforced": "mandatory",
    "queues-within-capacity": "mandatory",
    "critical-tenant-borrowing-limited": "mandatory",
    "node-groups-scaled": "advisory",
    "spot-pools-diversified": "advisory",
    "reserved-pools-unplaced": "mandatory",
}


def test_names_are_unique():
    names = [p.name for p in policies.ALL]
    assert len(names) == len(set(names))


def test_contract_names_and_default_levels():
    levels = {p.name: p.enforcement_level.value for p in policies.ALL}
    assert levels == {**CONTRACT, **ADDITIONS}


@pytest.mark.skipif(not DESIGN.exists(), reason="DESIGN.md is not checked out here")
def test_contract_matches_design_md():
    rows = re.findall(r"^\| ([a-z0-9-]+) \| .* \| (mandatory|advisory) \|$", DESIGN.read_text(), re.M)
    assert dict(rows) == CONTRACT


@pytest.mark.parametrize("policy", policies.ALL, ids=lambda p: p.name)
def test_metadata_is_complete(policy):
    assert policy.description and policy.remediation_steps and policy.severity is not None
    assert isinstance(policy, (ResourceValidationPolicy, StackValidationPolicy))


@pytest.mark.parametrize(
    "name, option",
    [
        ("driver-supports-cuda", "allowMinorVersionCompatibility"),
        ("tenant-quota-within-capacity", "oversubscriptionRatio"),
        ("images-from-allowed-registries", "allowedRegistries"),
        ("tenant-pod-security", "minimumLevel"),
    ],
)
def test_options_have_schema_with_default(name, option):
    prop = policies.BY_NAME[name].config_schema.properties[option]
    assert "default" in prop and prop["type"]


def test_main_assembles_all_policies(monkeypatch):
    import pulumi_policy

    seen = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: seen.update(kwargs))
    runpy.run_path(str(ROOT / "policies" / "__main__.py"), run_name="__main__")
    assert seen["name"] == "gpu-fleet"
    assert [p.name for p in seen["policies"]] == [p.name for p in policies.ALL]


def test_pulumi_policy_yaml():
    document = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert document["runtime"]["name"] == "python" and document["version"] and document["description"]
    assert "pulumi-policy==1.21.0" in (ROOT / "policies" / "requirements.txt").read_text()


def test_readme_documents_every_policy():
    text = (ROOT / "policies" / "README.md").read_text()
    for policy in policies.ALL:
        assert f"## {policy.name}\n" in text, policy.name
