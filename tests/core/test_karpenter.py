"""A Karpenter pool's NodePool and EC2NodeClass (core.karpenter) from the stacks' pools, and against the OpenAPI
schemas of the vendored CRDs (the AWS provider's, v1.13.0). Its CEL rules and what Karpenter does with it are
judged by the real API server and Karpenter in tests/integration/test_karpenter_live.py."""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml
from fleet_fixtures import ROOT, plan_of, stack_config

from core.boot import render_user_data
from core.facts import load_facts
from core.karpenter import (CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, NODES_LIMIT, UNREGISTERED_TAINT,
                            NodeClassPlacement, NodeClassRef, ami_parameter, node_class, node_pool, node_pool_limits,
                            registration_taints)
from core.names import GPU_RESOURCE, POOL_LABEL

CRDS = ROOT / "components" / "aws" / "vendor" / "karpenter" / "crds"
NODEPOOL_CRD = CRDS / "karpenter.sh_nodepools.yaml"
NODECLASS_CRD = CRDS / "karpenter.k8s.aws_ec2nodeclasses.yaml"
PLACEMENT = NodeClassPlacement(role="gpufleet-prod-karpenter-nodes-node", subnet_ids=("subnet-0a1b2c3d4e5f60718",),
                               security_group_ids=("sg-0123456789abcdef0",), kubernetes_version="1.33")


def schema(crd=NODEPOOL_CRD) -> dict:
    (version,) = [v for v in yaml.safe_load(crd.read_text())["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def errors(obj: dict, crd=NODEPOOL_CRD) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in jsonschema.Draft7Validator(schema(crd)).iter_errors(obj)]


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
    assert requirements[CAPACITY_TYPE_LABEL] == ["reserved"]  # its Capacity Block (sigs.k8s.io/karpenter labels.go)
    assert node_pool(prod["training-a100"])["spec"]["template"]["spec"]["requirements"][1] == {
        "key": CAPACITY_TYPE_LABEL, "operator": "In", "values": ["spot"]}
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


def test_the_ami_is_the_releases_by_the_parameter_karpenter_reads(prod):
    """resolvePath (karpenter-provider-aws pkg/providers/amifamily/al2023.go) for version v20260714 of the names the
    release lists (awslabs/amazon-eks-ami CHANGELOG.md, AMI Release v20260714: amazon-eks-node-al2023-x86_64-
    standard-1.33-v20260714 and -nvidia-)."""
    assert ami_parameter("1.33", "standard", "v20260714") == (
        "/aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/"
        "amazon-eks-node-al2023-x86_64-standard-1.33-v20260714/image_id")
    spec = node_class(prod["training-h100"], PLACEMENT, "")["spec"]
    assert spec["amiFamily"] == "AL2023"
    assert spec["amiSelectorTerms"] == [{"ssmParameter": ami_parameter("1.33", "standard", load_facts().eks_amis.release)}]


def test_drivers_from_the_ami_boot_its_nvidia_variant():
    config = stack_config("prod")
    config["drivers"] = {**config.get("drivers", {}), "install": "ami"}
    pools = {p.name: p for p in plan_of(config).pools}
    (term,) = node_class(pools["training-h100"], PLACEMENT, "")["spec"]["amiSelectorTerms"]
    assert "/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.33-" in term["ssmParameter"]


def test_the_node_class_boots_like_a_node_group(prod):
    pool = prod["training-h100"]
    spec = node_class(pool, PLACEMENT, "user data")["spec"]
    assert spec["metadataOptions"] == {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                                       "httpTokens": "required", "httpPutResponseHopLimit": 2}
    assert spec["blockDeviceMappings"] == [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": {
        "volumeSize": f"{pool.disk_gib}Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True}}]
    assert spec["userData"] == "user data" and spec["role"] == PLACEMENT.role
    assert spec["subnetSelectorTerms"] == [{"id": "subnet-0a1b2c3d4e5f60718"}]
    assert spec["securityGroupSelectorTerms"] == [{"id": "sg-0123456789abcdef0"}]
    assert spec["tags"] == {POOL_LABEL: pool.name} and "placementGroupSelector" not in spec


def test_a_custom_ami_is_selected_by_id_and_boots_its_own_user_data():
    pools = {p.name: p for p in plan_of(stack_config("staging")).pools}
    pool = pools["inference-l4-ubuntu"]
    placement = NodeClassPlacement(**{**PLACEMENT.__dict__, "root_device": "/dev/sda1", "placement_group": "pg-efa"})
    spec = node_class(pool, placement, "#cloud-config")["spec"]
    assert spec["amiFamily"] == "Custom" and spec["amiSelectorTerms"] == [{"id": pool.image_id}]
    assert spec["blockDeviceMappings"][0]["deviceName"] == "/dev/sda1"
    assert spec["placementGroupSelector"] == {"name": "pg-efa"}
    assert errors(node_class(pool, placement, "#cloud-config"), NODECLASS_CRD) == []


def test_who_registers_a_pools_taints(prod):
    """A node group's nodes register with the pool's taints; Karpenter's AL2023 NodeConfig registers a Karpenter
    pool's; a custom AMI's join adds Karpenter's unregistered taint itself."""
    assert registration_taints(prod["inference-l4"]) == tuple(prod["inference-l4"].taints)
    assert registration_taints(prod["training-h100"]) is None
    assert "--register-with-taints" not in render_user_data(prod["training-h100"], "bucket", "key")
    ubuntu = {p.name: p for p in plan_of(stack_config("staging")).pools}["inference-l4-ubuntu"]
    assert registration_taints(ubuntu) == (*ubuntu.taints, UNREGISTERED_TAINT)
    assert UNREGISTERED_TAINT.as_flag() == "karpenter.sh/unregistered:NoExecute"


@pytest.mark.parametrize("name", ["training-h100", "training-a100", "batch-a10g"])
def test_the_node_class_matches_the_crd_schema(prod, name):
    assert errors(node_class(prod[name], PLACEMENT, render_user_data(prod[name], "bucket", "key")), NODECLASS_CRD) == []


def test_the_node_class_schema_check_can_fail(prod):
    broken = copy.deepcopy(node_class(prod["training-a100"], PLACEMENT, ""))
    broken["spec"]["metadataOptions"]["httpTokens"] = "sometimes"
    broken["spec"]["subnetSelectorTerms"] = [{"id": "not-a-subnet"}]
    found = errors(broken, NODECLASS_CRD)
    assert any("httpTokens" in e for e in found) and any("subnetSelectorTerms" in e for e in found), found


GOLDEN = ROOT / "tests" / "gpufleet" / "golden"


@pytest.mark.parametrize("kind, crd", [("NodePool", NODEPOOL_CRD), ("EC2NodeClass", NODECLASS_CRD)])
def test_the_golden_karpenter_objects_match_the_crd_schemas(kind, crd):
    """What `gpufleet render` writes for the example stacks (tests/gpufleet/golden), as the program registers it."""
    paths = sorted(GOLDEN.glob(f"*/kubernetes/{kind}._cluster.*.yaml"))
    assert len(paths) >= 5  # dev 1, staging 2, prod 3 Karpenter pools
    for path in paths:
        assert errors(yaml.safe_load(path.read_text()), crd) == [], path.name


def test_reservations_selected_by_tags_are_one_term_the_crd_accepts():
    config = stack_config("prod")
    pool = next(p for p in config["nodePools"] if p["name"] == "training-h100")
    del pool["reservation"]["ids"]
    pool["reservation"]["tags"] = {"gpufleet.io/block": "fm-2027", "team": "*"}
    reserved = plan_of(config).pool("training-h100")
    document = node_class(reserved, PLACEMENT, "")
    assert document["spec"]["capacityReservationSelectorTerms"] == [{"tags": {"gpufleet.io/block": "fm-2027", "team": "*"}}]
    assert errors(document, NODECLASS_CRD) == []
    document["spec"]["capacityReservationSelectorTerms"] = [{"id": "cr-NOT"}]
    assert any("capacityReservationSelectorTerms" in e for e in errors(document, NODECLASS_CRD))
