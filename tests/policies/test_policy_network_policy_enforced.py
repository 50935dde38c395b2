"""network-policy-enforced: tenants' NetworkPolicies isolate only where the CNI enforces them.

EKS user guide, "Restrict pod traffic with Kubernetes policies": the Amazon VPC CNI enforces
NetworkPolicies only with the add-on configuration `enableNetworkPolicy: "true"`.
"""

import json

import pytest
from policy_fixtures import UNKNOWN, messages, resource, tenant_stack

POLICY = "network-policy-enforced"


def vpc_cni(config):
    inputs = {"addonName": "vpc-cni", "clusterName": "c"}
    if config is not None:
        inputs["configurationValues"] = config if config == UNKNOWN else json.dumps(config)
    return resource("aws:eks/addon:Addon", "c-vpc-cni", inputs)


def gpu_system(annotations=None):
    metadata = {"name": "gpu-system", **({"annotations": annotations} if annotations else {})}
    return resource("kubernetes:core/v1:Namespace", "gpu-system", {"metadata": metadata})


def test_eks_with_enforcement_passes():
    assert messages(POLICY, *tenant_stack(), vpc_cni({"enableNetworkPolicy": "true"})) == []


@pytest.mark.parametrize("config", [None, {}, {"enableNetworkPolicy": "false"}])
def test_eks_without_enforcement_fails(config):
    [message] = messages(POLICY, *tenant_stack(), vpc_cni(config))
    assert "does not enforce NetworkPolicies" in message and "enableNetworkPolicy" in message


def test_an_unknown_configuration_is_not_judged_in_preview():
    assert messages(POLICY, *tenant_stack(), vpc_cni(UNKNOWN)) == []


def test_an_existing_cluster_must_declare_its_cni():
    [message] = messages(POLICY, *tenant_stack(), gpu_system())
    assert "cluster.networkPolicyEnforced: true" in message
    assert messages(POLICY, *tenant_stack(), gpu_system({"gpufleet.io/network-policy-enforced": "true"})) == []


def test_a_stack_without_tenants_relies_on_nothing():
    assert messages(POLICY, gpu_system()) == []
