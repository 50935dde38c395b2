"""The node policies judge a Karpenter pool (its NodePool and EC2NodeClass) as they judge a node group pool: starts
from what the program renders for prod's Karpenter pools and changes one thing per case."""

from __future__ import annotations

import pytest
from fleet_fixtures import stack_run
from policy_fixtures import DELETE, edited, messages

from core.karpenter import CAPACITY_TYPE_LABEL

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"


def rendered(type_: str, pool: str):
    return next(r for r in stack_run("prod").custom_resources if r.type == type_ and r.inputs["metadata"]["name"] == pool)


def requirement_index(node_pool, key: str) -> int:
    requirements = node_pool.inputs["spec"]["template"]["spec"]["requirements"]
    return next(i for i, r in enumerate(requirements) if r["key"] == key)


@pytest.mark.parametrize("policy", ["gpu-nodes-tainted", "spot-pools-tainted", "no-inference-on-spot", "mig-capable-gpu",
                                    "driver-supports-gpu", "imdsv2-required", "ebs-encrypted", "versions-pinned"])
def test_what_the_program_renders_passes(policy):
    for pool in ("training-h100", "training-a100", "batch-a10g"):
        assert messages(policy, rendered(NODE_POOL, pool), rendered(NODE_CLASS, pool)) == [], (policy, pool)


def test_a_node_pool_without_the_gpu_taint_fails():
    node_pool = rendered(NODE_POOL, "batch-a10g")
    found = messages("gpu-nodes-tainted", edited(node_pool, ("spec", "template", "spec", "taints"), []))
    assert any("pool 'batch-a10g' has GPUs but no nvidia.com/gpu:NoSchedule taint" in m for m in found), found


def test_a_node_pool_that_may_launch_spot_needs_the_spot_taint():
    """Karpenter picks among the capacity types the requirements allow, all of them where none is required."""
    spot_pool = rendered(NODE_POOL, "batch-a10g")  # spot, with the GPU and the spot taint
    taints = spot_pool.inputs["spec"]["template"]["spec"]["taints"]
    untainted = edited(spot_pool, ("spec", "template", "spec", "taints"), [t for t in taints if t["key"] == "nvidia.com/gpu"])
    assert any("is spot capacity" in m for m in messages("spot-pools-tainted", untainted))
    path = ("spec", "template", "spec", "requirements", requirement_index(spot_pool, CAPACITY_TYPE_LABEL))
    assert messages("spot-pools-tainted", edited(untainted, (*path, "values"), ["on-demand"])) == []
    both = edited(untainted, (*path, "values"), ["on-demand", "spot"])
    assert any("is spot capacity" in m for m in messages("spot-pools-tainted", both))
    unconstrained = edited(untainted, path, {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]})
    assert any("is spot capacity" in m for m in messages("spot-pools-tainted", unconstrained))


def test_a_node_class_that_allows_imdsv1_or_relays_it_fails():
    node_class = rendered(NODE_CLASS, "training-h100")
    optional = edited(node_class, ("spec", "metadataOptions", "httpTokens"), "optional")
    assert any("httpTokens is 'optional'" in m for m in messages("imdsv2-required", optional))
    far = edited(node_class, ("spec", "metadataOptions", "httpPutResponseHopLimit"), 3)
    assert any("httpPutResponseHopLimit is 3" in m for m in messages("imdsv2-required", far))
    # Without metadataOptions the CRD's default applies: IMDSv2 only, hop limit 1 (ec2nodeclasses CRD).
    assert messages("imdsv2-required", edited(node_class, ("spec", "metadataOptions"), DELETE)) == []


def test_a_node_class_with_an_unencrypted_volume_fails():
    node_class = rendered(NODE_CLASS, "training-h100")
    plain = edited(node_class, ("spec", "blockDeviceMappings", 0, "ebs", "encrypted"), False)
    assert any("is not encrypted" in m for m in messages("ebs-encrypted", plain))
    assert any("no blockDeviceMappings" in m
               for m in messages("ebs-encrypted", edited(node_class, ("spec", "blockDeviceMappings"), DELETE)))


def test_an_inference_node_pool_on_spot_fails():
    node_pool = rendered(NODE_POOL, "batch-a10g")  # spot
    labels = {**node_pool.inputs["spec"]["template"]["metadata"]["labels"], "gpufleet.io/workload": "inference"}
    found = messages("no-inference-on-spot", edited(node_pool, ("spec", "template", "metadata", "labels"), labels))
    assert any("batch-a10g" in m for m in found), found
