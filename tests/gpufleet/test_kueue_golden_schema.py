"""The rendered Kueue objects (golden files) against the OpenAPI schemas of the vendored CRDs.

The schema part only: the CEL rules of the CRDs (x-kubernetes-validations) are judged by a real
kube-apiserver in tests/integration/test_queues_live.py (server-side dry run of the same objects).
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.kubernetes.kueue import crd_documents
from core.names import KUEUE_API_VERSION

GOLDEN = Path(__file__).resolve().parent / "golden"
GROUP, VERSION = KUEUE_API_VERSION.split("/")


def schemas() -> dict[str, dict]:
    """Kind -> the openAPIV3Schema of the version the fleet writes."""
    found = {}
    for crd in crd_documents():
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == VERSION]
        found[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return found


def kueue_goldens() -> list[Path]:
    return sorted(
        path for path in GOLDEN.glob("*/kubernetes/*.yaml")
        if yaml.safe_load(path.read_text()).get("apiVersion") == KUEUE_API_VERSION
    )


def errors(obj: dict, schema: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


def test_prod_renders_every_kind_of_queue_object():
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in kueue_goldens() if p.parts[-3] == "prod"}
    assert kinds == {"ClusterQueue", "Cohort", "LocalQueue", "ResourceFlavor", "Topology", "WorkloadPriorityClass"}


@pytest.mark.parametrize("path", kueue_goldens(), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_golden_object_matches_its_crd_schema(path):
    obj = yaml.safe_load(path.read_text())
    assert errors(obj, schemas()[obj["kind"]]) == []


def test_the_schema_check_can_fail():
    obj = yaml.safe_load((GOLDEN / "prod" / "kubernetes" / "ClusterQueue._cluster.analytics.yaml").read_text())
    broken = copy.deepcopy(obj)
    del broken["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]["nominalQuota"]
    broken["spec"]["queueingStrategy"] = "Random"
    found = errors(broken, schemas()["ClusterQueue"])
    assert any("nominalQuota" in e for e in found) and any("Random" in e for e in found)
