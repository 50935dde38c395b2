"""A Karpenter pool's NodePool (core.karpenter) from the prod stack's pools, and against the OpenAPI schema of
the vendored NodePool CRD (the AWS provider's, v1.13.0). Its CEL rules and what Karpenter does with it are
judged by the real API server and Karpenter in tests/integration/test_karpenter_live.py."""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml
from fleet_fixtures import ROOT, plan_of, stack_config

from core.karpenter import (CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, NODES_LIMIT, NodeClassRef, node_pool,
                            node_pool_limits)
from core.names import GPU_RESOURCE

CRD = ROOT / "components" / "aws" / "vendor" / "karpenter" / "crds" / "karpenter.sh_nodepools.yaml"


def schema() -> dict:
    (version,) = [v for v in yaml.safe_load(CRD.read_text())["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def errors(obj: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in jsonschema.Draft7Validator(schema()).iter_errors(obj)]


@pytest.fixture(scope="module")
def prod():
    return {p.name: p for p in plan_of(stack_config("prod")).pools}


def test_the_node_template_is_the_pools_labels_and_taints(prod):
    pool = prod["training-h100"]
    spec = node_pool(pool)["spec"]
    template = spec["template"]
    assert template["metadata"]["labels"] == dict(pool.labels)
    assert template["spec"]["taints"] == [t.as_kubernetes() for t in pool.taints]
    requirements = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
    assert requirements[INSTANCE_TYPE_LABEL] == ["p5.48xlarge"]
    assert requirements[CAPACITY_TYPE_LABEL] == ["spot"]
    assert template["spec"]["nodeClassRef"] == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass",
                                                "name": "training-h100"}
    assert template["spec"]["expireAfter"] == "Never"


def test_a_training_pool_only_consolidates_empty_nodes(prod):
    disruption = node_pool(prod["training-a100"])["spec"]["disruption"]
    assert disruption == {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "15m", "budgets": [{"nodes": "1"}]}
    assert node_pool(prod["batch-a10g"])["spec"]["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"


def test_limits_are_max_size_in_nodes_and_in_the_units_nodes_advertise():
    config = stack_config("prod")
    config["nodePools"] = [
        {"name": "plain", "instanceTypes": ["p4d.24xlarge"], "workload": "training", "maxSize": 3},
        {"name": "sliced", "instanceTypes": ["g6.xlarge"], "maxSize": 5, "sharing": {"mode": "time-slicing", "replicas": 4}},
        {"name": "mixed", "instanceTypes": ["p5.48xlarge"], "maxSize": 2,
         "sharing": {"mode": "mig", "migStrategy": "mixed", "migProfiles": ["3g.40gb", "3g.40gb"]}},
    ]
    config["tenants"], config["queues"] = [], {"enabled": False}
    pools = {p.name: p for p in plan_of(config).pools}
    assert node_pool_limits(pools["plain"]) == {NODES_LIMIT: "3", GPU_RESOURCE: "24"}
    assert node_pool_limits(pools["sliced"]) == {NODES_LIMIT: "5", GPU_RESOURCE: "20"}  # 1 GPU x 4 replicas x 5
    assert node_pool_limits(pools["mixed"]) == {NODES_LIMIT: "2", "nvidia.com/mig-3g.40gb": "32"}  # 8 x 2 x 2


def test_a_node_group_pool_has_no_node_pool(prod):
    with pytest.raises(ValueError, match="not a Karpenter pool"):
        node_pool(prod["inference-l4"])


@pytest.mark.parametrize("name", ["training-h100", "training-a100", "batch-a10g"])
def test_the_node_pool_matches_the_crd_schema(prod, name):
    assert errors(node_pool(prod[name])) == []
    assert errors(node_pool(prod[name], NodeClassRef("local", group="karpenter.kwok.sh", kind="KWOKNodeClass"))) == []


def test_the_schema_check_can_fail(prod):
    broken = copy.deepcopy(node_pool(prod["training-a100"]))
    broken["spec"]["disruption"]["consolidationPolicy"] = "Sometimes"
    del broken["spec"]["template"]["spec"]["nodeClassRef"]["kind"]
    found = errors(broken)
    assert any("consolidationPolicy" in e for e in found) and any("kind" in e for e in found)
