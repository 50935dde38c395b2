"""The files vendored from Kueue (components/kubernetes/vendor/kueue) and Karpenter (components/aws/vendor/karpenter)
are the bytes their SOURCE.md records, every one of them is recorded, and they come from the release tools/build.sh
builds (KUEUE_VERSION, KARPENTER_VERSION)."""

from __future__ import annotations

import hashlib
import re

import pytest
from fleet_fixtures import ROOT

VENDORED = {  # directory: the versions.env pin its files must come from
    ROOT / "components" / "kubernetes" / "vendor" / "kueue": "KUEUE_VERSION",
    ROOT / "components" / "aws" / "vendor" / "karpenter": "KARPENTER_VERSION",
}
ROW = re.compile(r"^\| `([^`]+)` \| (.+?) \| `([0-9a-f]{64})` \|$", re.M)  # | file | module path | sha256 |


def rows(vendor) -> list[tuple[str, str, str]]:
    return ROW.findall((vendor / "SOURCE.md").read_text())


def versions_env() -> dict[str, str]:
    """tools/versions.env's NAME=value lines (it is sourced by bash; it holds nothing fancier)."""
    pairs = (line.split("=", 1) for line in (ROOT / "tools" / "versions.env").read_text().splitlines()
             if re.match(r"^[A-Z0-9_]+=", line))
    return {name: value.strip() for name, value in pairs}


@pytest.mark.parametrize("vendor", VENDORED, ids=lambda path: path.name)
def test_every_vendored_file_has_the_recorded_sha256(vendor):
    actual = {str(path.relative_to(vendor)): hashlib.sha256(path.read_bytes()).hexdigest()
              for path in sorted(vendor.rglob("*")) if path.is_file() and path.name != "SOURCE.md"}
    listing = "\n".join(f"{sha}  {file}" for file, sha in actual.items())
    assert {file: sha for file, _, sha in rows(vendor)} == actual, \
        f"{vendor}/SOURCE.md's table does not match the files; their sha256:\n{listing}"


@pytest.mark.parametrize("vendor", VENDORED, ids=lambda path: path.name)
def test_the_vendored_version_is_the_built_one(vendor):
    (version,) = re.findall(r"^- Version: `([^`]+)`$", (vendor / "SOURCE.md").read_text(), flags=re.M)
    assert version == versions_env()[VENDORED[vendor]]


def test_all_of_kueues_crds_are_vendored():
    vendor = ROOT / "components" / "kubernetes" / "vendor" / "kueue"
    crds = [(file, module) for file, module, _ in rows(vendor) if file.startswith("crds/")]
    assert len(crds) == 11  # config/components/crd/bases/ of v0.17.0
    assert all(module == f"`config/components/crd/bases/{file.removeprefix('crds/')}`" for file, module in crds)


def test_all_of_karpenters_aws_crds_are_vendored():
    vendor = ROOT / "components" / "aws" / "vendor" / "karpenter"
    crds = [(file, module) for file, module, _ in rows(vendor) if file.startswith("crds/")]
    # pkg/apis/crds/ of the AWS provider v1.13.0: EC2NodeClass and the core's NodePool, NodeClaim, NodeOverlay.
    assert sorted(file for file, _ in crds) == ["crds/karpenter.k8s.aws_ec2nodeclasses.yaml",
                                                "crds/karpenter.sh_nodeclaims.yaml",
                                                "crds/karpenter.sh_nodeoverlays.yaml",
                                                "crds/karpenter.sh_nodepools.yaml"]
    assert all(module == f"`github.com/aws/karpenter-provider-aws` `pkg/apis/{file}`" for file, module in crds)
