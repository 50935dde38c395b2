"""The AWS EFA device plugin on EFA pools, as registered under Pulumi's mocks.

Upstream: the chart aws/eks-charts stable/aws-efa-k8s-device-plugin (templates/daemonset.yaml, values.yaml at
commit 5239609242f3): image eks/aws-efa-k8s-device-plugin:v0.5.20 from the EKS registry, privileged, hostNetwork,
hostPath /var/lib/kubelet/device-plugins and /dev/infiniband, priorityClassName system-node-critical,
automountServiceAccountToken false, a CriticalAddonsOnly toleration. The EKS AMIs do not include the plugin
(EKS user guide, "Use EFA with EKS"); it advertises vpc.amazonaws.com/efa.
"""

from __future__ import annotations

import pytest
from fleet_fixtures import STACKS, spec_of, stack_config, stack_run

from core.facts import load_facts
from gpufleet.offline import run_offline

PLUGIN = "aws-efa-k8s-device-plugin"


def plugin_pods(run):
    return [r.inputs["spec"]["template"]["spec"] for r in run.custom_resources
            if r.type == "kubernetes:apps/v1:DaemonSet" and r.inputs["metadata"]["name"] == PLUGIN]


@pytest.mark.parametrize("stack", STACKS)
def test_the_plugin_runs_exactly_where_a_pool_has_efa(stack):
    run = stack_run(stack)
    efa_pools = [p.name for p in run.plan.pools if p.efa]
    pods = plugin_pods(run)
    assert len(pods) == (1 if efa_pools else 0)
    if efa_pools:
        (term,) = pods[0]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert term == {"matchExpressions": [{"key": "gpufleet.io/pool", "operator": "In", "values": efa_pools}]}
        tolerations = pods[0]["tolerations"]
        for pool in run.plan.pools:
            if pool.efa:  # every taint of an EFA pool is tolerated, or the plugin never lands there
                assert all(t in tolerations for t in pool.tolerations), pool.name


def test_the_pod_is_the_upstream_charts():
    (pod,) = plugin_pods(stack_run("prod"))
    (container,) = pod["containers"]
    assert container["securityContext"]["privileged"] is True
    assert pod["hostNetwork"] is True and pod["automountServiceAccountToken"] is False
    assert pod["priorityClassName"] == "system-node-critical"
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in pod["tolerations"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
    assert mounts == host == {"device-plugin": "/var/lib/kubelet/device-plugins", "infiniband": "/dev/infiniband"}


def test_the_image_comes_from_the_stacks_regional_eks_registry():
    """EKS user guide, "View Amazon container image registries for Amazon EKS add-ons": account 602401143452 in
    us-east-1 (the prod stack's aws:region); af-south-1 is 877085696533; China under amazonaws.com.cn."""
    (pod,) = plugin_pods(stack_run("prod"))
    assert pod["containers"][0]["image"] == \
        "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20"
    spec = spec_of(stack_config("prod"))
    for region, registry in [("af-south-1", "877085696533.dkr.ecr.af-south-1.amazonaws.com"),
                             ("cn-north-1", "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn"),
                             (None, f"602401143452.dkr.ecr.{load_facts().prices.region}.amazonaws.com")]:  # None: no aws:region
        (pod,) = plugin_pods(run_offline(spec, "region", region))
        assert pod["containers"][0]["image"].startswith(f"{registry}/eks/"), region
