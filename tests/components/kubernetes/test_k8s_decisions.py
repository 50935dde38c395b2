"""Pure decisions of the Kubernetes layer: no mocks, no engine."""

from __future__ import annotations

import json

import pytest
import yaml
from fleet_fixtures import STACKS, plan_of, stack_config

from components.kubernetes.device_plugin import plugin_config_data, plugin_configs
from components.kubernetes.scheduling import priority_classes
from components.kubernetes.system_namespace import pool_inventory_data, system_namespace_labels
from components.kubernetes.tenant import namespace_annotations, namespace_labels, network_policies, placement, placement_data
from components.kubernetes.tenant_roles import PROTECTED_RESOURCES, role_rules, tenant_admin_rules, tenant_edit_rules
from core import names as fl

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}


# --- GPU DaemonSet placement -----------------------------------------------------------


def test_daemonset_tolerations_are_the_union_of_pool_taints_prod():
    tolerations = list(plan_of(stack_config("prod")).gpu_tolerations)
    assert tolerations == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
        {"key": "gpufleet.io/tenant", "operator": "Equal", "value": "foundation-models", "effect": "NoSchedule"},
        {"key": "gpufleet.io/capacity", "operator": "Equal", "value": "spot", "effect": "NoSchedule"},
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_daemonset_tolerations_cover_every_pool_and_nothing_else(stack):
    plan = plan_of(stack_config(stack))
    tolerations = plan.gpu_tolerations
    expected = {json.dumps(t, sort_keys=True) for p in plan.pools for t in p.tolerations}
    assert {json.dumps(t, sort_keys=True) for t in tolerations} == expected
    assert len(tolerations) == len(expected)  # no duplicates


def test_extra_pool_taints_are_tolerated():
    config = stack_config("dev")
    config["nodePools"][0]["taints"] = [{"key": "example.com/reserved", "value": "x", "effect": "NoExecute"}]
    plan = plan_of(config)
    assert {"key": "example.com/reserved", "operator": "Equal", "value": "x", "effect": "NoExecute"} in (
        plan.gpu_tolerations
    )
    assert plan.gpu_taints == list(plan.pools[0].taints)


# --- device plugin configs -------------------------------------------------------------


def test_plugin_config_per_pool_plus_default_local():
    data = plugin_config_data(plan_of(stack_config("local")).pools)
    assert sorted(data) == ["gpufleet-default", "inference-l4", "training-a100"]
    l4 = yaml.safe_load(data["inference-l4"])
    assert l4 == {
        "version": "v1",
        "flags": {"migStrategy": "none", "plugin": {"deviceListStrategy": ["volume-mounts"]}},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": False,
                "failRequestsGreaterThanOne": True,
                "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
            }
        },
    }
    volume_mounts = {"plugin": {"deviceListStrategy": ["volume-mounts"]}}
    assert yaml.safe_load(data["training-a100"]) == {"version": "v1", "flags": {"migStrategy": "mixed", **volume_mounts}}
    assert yaml.safe_load(data["gpufleet-default"]) == {"version": "v1", "flags": {"migStrategy": "none", **volume_mounts}}


def test_plugin_config_keys_match_the_pool_label():
    plan = plan_of(stack_config("prod"))
    names = {c.name for c in plugin_configs(plan.pools)}
    for pool in plan.pools:
        assert pool.labels[fl.DEVICE_PLUGIN_CONFIG_LABEL] in names


def test_mixed_mig_strategy_and_no_mps():
    config = stack_config("local")
    config["nodePools"][1]["sharing"] = {"mode": "mig", "migStrategy": "mixed", "migProfile": "1g.5gb"}
    data = plugin_config_data(plan_of(config).pools)
    assert yaml.safe_load(data["training-a100"])["flags"]["migStrategy"] == "mixed"
    assert all("mps" not in text.lower() for text in data.values())




# --- system namespace, scheduling ------------------------------------------------------


def test_system_namespace_is_privileged_and_inventory_is_the_pool_inventory():
    assert system_namespace_labels()[fl.PSA_ENFORCE_LABEL] == "privileged"
    plan = plan_of(stack_config("prod"))
    data = pool_inventory_data(plan.pools)
    assert list(data) == ["pools.json"]
    assert json.loads(data["pools.json"]) == plan.pool_inventory()


def test_priority_classes_ordered_and_batch_never_preempts():
    classes = {c.priority: c for c in priority_classes()}
    assert [c.name for c in priority_classes()] == ["gpufleet-critical", "gpufleet-standard", "gpufleet-batch"]
    assert classes["critical"].value > classes["standard"].value > classes["batch"].value > 0
    assert classes["batch"].preemption_policy == "Never"
    assert classes["critical"].preemption_policy == "PreemptLowerPriority"
    assert {c.name for c in priority_classes()} == set(fl.PRIORITY_CLASSES.values())


# --- tenants ---------------------------------------------------------------------------


def test_psa_labels_and_annotations():
    tenant = plan_of(stack_config("prod")).tenant("search-serving")
    labels = namespace_labels(tenant)
    assert labels[fl.TENANT_LABEL] == "search-serving"
    for key in (fl.PSA_ENFORCE_LABEL, fl.PSA_AUDIT_LABEL, fl.PSA_WARN_LABEL):
        assert labels[key] == "restricted"
    assert namespace_annotations(tenant) == {
        "gpufleet.io/pools": "inference-l4,inference-h100",
        "gpufleet.io/cuda-versions": "12.4,12.8",
        "gpufleet.io/priority": "critical",
        "gpufleet.io/priority-class": "gpufleet-critical",
        "gpufleet.io/isolation": "shared",
    }


def test_network_policies_default_deny_dns_and_same_namespace():
    policies = network_policies()
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns"]["egress"][0]
    assert dns["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}
    assert sorted(p["protocol"] for p in dns["ports"]) == ["TCP", "UDP"]
    assert all(p["port"] == 53 for p in dns["ports"])
    same = policies["allow-same-namespace"]
    assert same["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert same["egress"] == [{"to": [{"podSelector": {}}]}]


def test_placement_uses_pool_tolerations_including_dedicated_taint():
    plan = plan_of(stack_config("prod"))
    fm = plan.tenant("foundation-models")
    guide = placement(fm)
    assert list(guide) == ["training-h100"]
    assert guide["training-h100"]["nodeSelector"] == {"gpufleet.io/pool": "training-h100"}
    assert guide["training-h100"]["tolerations"] == plan.pool("training-h100").tolerations
    assert {"key": "gpufleet.io/tenant", "operator": "Equal", "value": "foundation-models", "effect": "NoSchedule"} in (
        guide["training-h100"]["tolerations"]
    )
    data = placement_data(fm)
    assert json.loads(data["placement.json"]) == guide
    assert yaml.safe_load(data["training-h100.yaml"])["priorityClassName"] == "gpufleet-standard"


# --- tenant roles ----------------------------------------------------------------------


@pytest.mark.parametrize("rules", [tenant_admin_rules(), tenant_edit_rules()], ids=["admin", "edit"])
def test_tenant_roles_never_write_protected_resources(rules):
    for rule in rules:
        assert "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        if set(rule["verbs"]) & WRITE_VERBS:
            assert not set(rule["resources"]) & set(PROTECTED_RESOURCES), rule
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule


def test_tenant_roles_can_read_protected_resources_and_admin_manages_rolebindings():
    def can(rules, resource, verb):
        return any(resource in r["resources"] and verb in r["verbs"] for r in rules)

    for resource in PROTECTED_RESOURCES:
        assert can(tenant_edit_rules(), resource, "get")
    assert can(tenant_admin_rules(), "rolebindings", "create")
    assert not can(tenant_edit_rules(), "rolebindings", "create")
    assert can(tenant_edit_rules(), "pods", "create")
    assert set(role_rules()) == {fl.TENANT_ADMIN_ROLE, fl.TENANT_EDIT_ROLE}


def test_tenants_may_use_priority_classes_up_to_their_own():
    """Kubernetes docs, Resource Quotas, "Limit Priority Class consumption by default": a quota scoped to
    PriorityClass with pods 0 admits no pod of those classes in the namespace."""
    from components.kubernetes.tenant import priority_class_quota

    plan = plan_of(stack_config("prod"))
    by_priority = {t.priority: t for t in plan.tenants}
    system = ("system-cluster-critical", "system-node-critical")  # usable in any namespace since Kubernetes 1.17
    assert by_priority["critical"].forbidden_priority_classes == system
    assert by_priority["batch"].forbidden_priority_classes == ("gpufleet-standard", "gpufleet-critical", *system)
    spec = priority_class_quota(by_priority["batch"])
    assert spec == {"hard": {"pods": "0"}, "scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["gpufleet-standard", "gpufleet-critical", *system]}]}}


def test_an_existing_clusters_cni_declaration_reaches_gpu_system():
    from components.kubernetes.system_namespace import system_namespace_annotations

    assert system_namespace_annotations(True) == {"gpufleet.io/network-policy-enforced": "true"}
    assert system_namespace_annotations(False) == {}


def test_the_placement_guide_says_what_a_mig_unit_is():
    from components.kubernetes.tenant import placement

    plan = plan_of(stack_config("prod"))
    mig_pool = next(p for p in plan.pools if p.sharing.mode == "mig")
    tenant = next(t for t in plan.tenants if mig_pool.name in t.pools)
    entry = placement(tenant)[mig_pool.name]
    assert entry["gpuResources"] == list(mig_pool.gpu_resources)
    assert entry["migDevices"] == {r: mig_pool.sharing.mig_profile for r in mig_pool.gpu_resources}
    other = next((p for p in tenant.pools if p != mig_pool.name), None)
    if other is not None:
        assert "migDevices" not in placement(tenant)[other]
