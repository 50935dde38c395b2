"""The files vendored from Kueue (components/kubernetes/vendor/kueue) are the bytes SOURCE.md records, every one
of them is recorded, and they come from the release tools/build.sh builds the manager of (KUEUE_VERSION)."""

from __future__ import annotations

import hashlib
import re

from fleet_fixtures import ROOT

VENDOR = ROOT / "components" / "kubernetes" / "vendor" / "kueue"
SOURCE = VENDOR / "SOURCE.md"
ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \| `([0-9a-f]{64})` \|$", re.M)  # | file | module path | sha256 |


def recorded() -> dict[str, str]:
    return {file: sha for file, _, sha in ROW.findall(SOURCE.read_text())}


def versions_env() -> dict[str, str]:
    """tools/versions.env's NAME=value lines (it is sourced by bash; it holds nothing fancier)."""
    pairs = (line.split("=", 1) for line in (ROOT / "tools" / "versions.env").read_text().splitlines()
             if re.match(r"^[A-Z0-9_]+=", line))
    return {name: value.strip() for name, value in pairs}


def test_every_vendored_file_has_the_recorded_sha256():
    actual = {str(path.relative_to(VENDOR)): hashlib.sha256(path.read_bytes()).hexdigest()
              for path in sorted(VENDOR.rglob("*")) if path.is_file() and path != SOURCE}
    rows = "\n".join(f"{sha}  {file}" for file, sha in actual.items())
    assert recorded() == actual, f"SOURCE.md's table does not match the files; their sha256:\n{rows}"


def test_all_of_kueues_crds_are_vendored():
    crds = {file for file in recorded() if file.startswith("crds/")}
    assert len(crds) == 11  # config/components/crd/bases/ of v0.17.0
    assert all(module == f"config/components/crd/bases/{file.removeprefix('crds/')}"
               for file, module, _ in ROW.findall(SOURCE.read_text()) if file in crds)


def test_the_vendored_version_is_the_built_one():
    (version,) = re.findall(r"^- Version: `([^`]+)`$", SOURCE.read_text(), flags=re.M)
    assert version == versions_env()["KUEUE_VERSION"]
