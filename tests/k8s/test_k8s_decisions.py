"""Pure decisions of the Kubernetes layer: no mocks, no engine."""

from __future__ import annotations

import json

import pytest
import yaml

from components import fleet_labels as fl
from components.device_plugin import capabilities_to_add, plugin_config_data, plugin_configs
from components.eks_access import eks_access_plan
from components.gpu_placement import gpu_daemonset_tolerations, gpu_taints
from components.pool_decisions import pool_taints, pool_tolerations
from components.scheduling import priority_classes
from components.system_namespace import pool_inventory_data, system_namespace_labels
from components.pool_inventory import pool_inventory
from components.tenant import (
    namespace_annotations,
    namespace_labels,
    network_policies,
    placement,
    placement_data,
    quota_hard,
    rbac_subject,
    role_bindings,
)
from components.tenant_roles import PROTECTED_RESOURCES, role_rules, tenant_admin_rules, tenant_edit_rules
from fleet_fixtures import STACKS, spec_of, stack_config

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}


# --- GPU DaemonSet placement -----------------------------------------------------------


def test_daemonset_tolerations_are_the_union_of_pool_taints_prod():
    spec = spec_of(stack_config("prod"))
    tolerations = gpu_daemonset_tolerations(spec)
    assert tolerations == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
        {"key": "gpufleet.io/capacity", "operator": "Equal", "value": "spot", "effect": "NoSchedule"},
        {"key": "gpufleet.io/tenant", "operator": "Equal", "value": "foundation-models", "effect": "NoSchedule"},
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_daemonset_tolerations_cover_every_pool_and_nothing_else(stack):
    spec = spec_of(stack_config(stack))
    tolerations = gpu_daemonset_tolerations(spec)
    expected = {json.dumps(t, sort_keys=True) for p in spec.node_pools for t in pool_tolerations(spec, p)}
    assert {json.dumps(t, sort_keys=True) for t in tolerations} == expected
    assert len(tolerations) == len(expected)  # no duplicates


def test_extra_pool_taints_are_tolerated():
    config = stack_config("dev")
    config["nodePools"][0]["taints"] = [{"key": "example.com/reserved", "value": "x", "effect": "NoExecute"}]
    spec = spec_of(config)
    assert {"key": "example.com/reserved", "operator": "Equal", "value": "x", "effect": "NoExecute"} in (
        gpu_daemonset_tolerations(spec)
    )
    assert gpu_taints(spec) == pool_taints(spec, spec.node_pools[0])


# --- device plugin configs -------------------------------------------------------------


def test_plugin_config_per_pool_plus_default_local():
    spec = spec_of(stack_config("local"))
    data = plugin_config_data(spec)
    assert sorted(data) == ["gpufleet-default", "inference-l4", "training-a100"]
    l4 = yaml.safe_load(data["inference-l4"])
    assert l4 == {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": False,
                "failRequestsGreaterThanOne": True,
                "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
            }
        },
    }
    assert yaml.safe_load(data["training-a100"]) == {"version": "v1", "flags": {"migStrategy": "single"}}
    assert yaml.safe_load(data["gpufleet-default"]) == {"version": "v1", "flags": {"migStrategy": "none"}}


def test_plugin_config_keys_match_the_pool_label():
    spec = spec_of(stack_config("prod"))
    names = {c.name for c in plugin_configs(spec)}
    for pool in spec.node_pools:
        from components.pool_decisions import pool_labels

        assert pool_labels(spec, pool)[fl.DEVICE_PLUGIN_CONFIG_LABEL] in names


def test_mixed_mig_strategy_and_no_mps():
    config = stack_config("local")
    config["nodePools"][1]["sharing"] = {"mode": "mig", "migStrategy": "mixed", "migProfile": "1g.5gb"}
    data = plugin_config_data(spec_of(config))
    assert yaml.safe_load(data["training-a100"])["flags"]["migStrategy"] == "mixed"
    assert all("mps" not in text.lower() for text in data.values())


def test_sys_admin_only_with_mig_pools():
    assert capabilities_to_add(spec_of(stack_config("local"))) == ["SYS_ADMIN"]
    assert capabilities_to_add(spec_of(stack_config("dev"))) == []
    assert capabilities_to_add(spec_of(stack_config("staging"))) == []


# --- system namespace, scheduling ------------------------------------------------------


def test_system_namespace_is_privileged_and_inventory_is_the_pool_inventory():
    assert system_namespace_labels()[fl.PSA_ENFORCE_LABEL] == "privileged"
    spec = spec_of(stack_config("prod"))
    data = pool_inventory_data(spec)
    assert list(data) == ["pools.json"]
    assert json.loads(data["pools.json"]) == pool_inventory(spec)


def test_priority_classes_ordered_and_batch_never_preempts():
    classes = {c.priority: c for c in priority_classes()}
    assert [c.name for c in priority_classes()] == ["gpufleet-critical", "gpufleet-standard", "gpufleet-batch"]
    assert classes["critical"].value > classes["standard"].value > classes["batch"].value > 0
    assert classes["batch"].preemption_policy == "Never"
    assert classes["critical"].preemption_policy == "PreemptLowerPriority"
    assert {c.name for c in priority_classes()} == set(fl.PRIORITY_CLASSES.values())


# --- tenants ---------------------------------------------------------------------------


def test_quota_values():
    spec = spec_of(stack_config("prod"))
    search = next(t for t in spec.tenants if t.name == "search-serving")
    assert quota_hard(spec, search) == {
        "requests.cpu": "192",
        "requests.memory": "1536Gi",
        "requests.nvidia.com/gpu": "24",
    }
    fm = next(t for t in spec.tenants if t.name == "foundation-models")
    assert quota_hard(spec, fm) == {"requests.nvidia.com/gpu": "64"}
    assert not any(k.startswith("limits.") for t in spec.tenants for k in quota_hard(spec, t))


def test_quota_covers_mixed_mig_resources():
    config = stack_config("local")
    config["nodePools"][1]["sharing"] = {"mode": "mig", "migStrategy": "mixed", "migProfile": "1g.5gb"}
    spec = spec_of(config)
    research = spec.tenants[1]
    assert quota_hard(spec, research) == {"requests.nvidia.com/gpu": "8", "requests.nvidia.com/mig-1g.5gb": "8"}
    assert placement(spec, research)["training-a100"]["gpuResource"] == "nvidia.com/mig-1g.5gb"


def test_psa_labels_and_annotations():
    spec = spec_of(stack_config("prod"))
    tenant = next(t for t in spec.tenants if t.name == "search-serving")
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


@pytest.mark.parametrize(
    "principal, subject",
    [
        ("user:alice", {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}),
        ("group:ml-devs", {"kind": "Group", "name": "ml-devs", "apiGroup": "rbac.authorization.k8s.io"}),
        (
            "arn:aws:iam::111122223333:role/fm-admins",
            {"kind": "User", "name": "arn:aws:iam::111122223333:role/fm-admins", "apiGroup": "rbac.authorization.k8s.io"},
        ),
    ],
)
def test_rbac_subject(principal, subject):
    assert rbac_subject(principal) == subject


def test_role_bindings_map_levels_to_safe_roles():
    spec = spec_of(stack_config("local"))
    bindings = role_bindings(spec.tenants[0])
    assert {level: b["role"] for level, b in bindings.items()} == {
        "admins": "gpufleet-tenant-admin",
        "editors": "gpufleet-tenant-edit",
        "viewers": "view",
    }
    assert bindings["editors"]["subjects"] == [
        {"kind": "Group", "name": "vision-devs", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert "viewers" not in role_bindings(spec.tenants[1])


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
    spec = spec_of(stack_config("prod"))
    fm = next(t for t in spec.tenants if t.name == "foundation-models")
    guide = placement(spec, fm)
    assert list(guide) == ["training-h100"]
    assert guide["training-h100"]["nodeSelector"] == {"gpufleet.io/pool": "training-h100"}
    assert guide["training-h100"]["tolerations"] == pool_tolerations(spec, spec.pool("training-h100"))
    assert {"key": "gpufleet.io/tenant", "operator": "Equal", "value": "foundation-models", "effect": "NoSchedule"} in (
        guide["training-h100"]["tolerations"]
    )
    data = placement_data(spec, fm)
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


# --- EKS access ------------------------------------------------------------------------


def test_eks_access_one_entry_per_iam_principal_view_policy_only_for_viewers():
    spec = spec_of(stack_config("prod"))
    plan = {a.principal_arn: a for a in eks_access_plan(spec)}
    assert sorted(plan) == sorted(
        [
            "arn:aws:iam::111122223333:role/search-serving-admins",
            "arn:aws:iam::111122223333:role/search-oncall",
            "arn:aws:iam::111122223333:role/fm-admins",
            "arn:aws:iam::111122223333:role/fm-researchers",
            "arn:aws:iam::111122223333:role/applied-research",
        ]
    )
    assert all(a.username == a.principal_arn for a in plan.values())
    assert plan["arn:aws:iam::111122223333:role/search-oncall"].policies == {"AmazonEKSViewPolicy": ["search-serving"]}
    assert plan["arn:aws:iam::111122223333:role/fm-admins"].policies == {}


def test_eks_access_principal_in_two_tenants_gets_one_entry():
    config = stack_config("prod")
    arn = "arn:aws:iam::111122223333:role/search-oncall"
    config["tenants"][3]["access"]["viewers"] = [arn]
    plan = [a for a in eks_access_plan(spec_of(config)) if a.principal_arn == arn]
    assert len(plan) == 1
    assert plan[0].policies == {"AmazonEKSViewPolicy": ["search-serving", "analytics"]}
