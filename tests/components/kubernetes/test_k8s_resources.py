"""The Kubernetes layer as registered under Pulumi's mocks (gpufleet.offline.run_offline)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fleet_fixtures import STACKS, spec_of, stack_config, stack_run

from core.names import KARPENTER_NAMESPACE, KUEUE_NAMESPACE
from gpufleet.offline import run_offline

K = "kubernetes:"
TENANT_KINDS = {"Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "RoleBinding", "ConfigMap"}


def k8s_resources(run):
    return [r for r in run.custom_resources if r.type.startswith(K)]


def kinds(run) -> Counter:
    return Counter(r.inputs["kind"] for r in k8s_resources(run))


def by_kind_name(run, kind, name, namespace=None):
    matches = [
        r
        for r in k8s_resources(run)
        if r.inputs["kind"] == kind
        and r.inputs["metadata"]["name"] == name
        and (namespace is None or r.inputs["metadata"].get("namespace") == namespace)
    ]
    assert len(matches) == 1, f"{kind} {namespace}/{name}: {len(matches)} found"
    return matches[0].inputs


# Expected objects per example stack: shared layer + per-tenant objects (two ResourceQuotas per tenant: its
# GPUs, and the priority classes it may not use); staging and prod have EFA pools, so the EFA device plugin.
EXPECTED_KINDS = {
    "local": {"Namespace": 4, "ConfigMap": 7, "PriorityClass": 3, "ClusterRole": 3, "ClusterRoleBinding": 1,
              "ServiceAccount": 2, "DaemonSet": 2, "Service": 1, "ServiceMonitor": 1, "PrometheusRule": 1,
              "ResourceQuota": 6, "LimitRange": 3, "NetworkPolicy": 9, "RoleBinding": 6,
              "ValidatingAdmissionPolicy": 1, "ValidatingAdmissionPolicyBinding": 1},
    "dev": {"Namespace": 2, "ConfigMap": 5, "PriorityClass": 3, "ClusterRole": 3, "ClusterRoleBinding": 1,
            "ServiceAccount": 2, "DaemonSet": 2, "Service": 1,
            "ResourceQuota": 2, "LimitRange": 1, "NetworkPolicy": 3, "RoleBinding": 1,
              "ValidatingAdmissionPolicy": 1, "ValidatingAdmissionPolicyBinding": 1},
    "staging": {"Namespace": 3, "ConfigMap": 6, "PriorityClass": 3, "ClusterRole": 3, "ClusterRoleBinding": 1,
                "ServiceAccount": 2, "DaemonSet": 3, "Service": 1, "ServiceMonitor": 1, "PrometheusRule": 1,
                "ResourceQuota": 4, "LimitRange": 2, "NetworkPolicy": 6, "RoleBinding": 2,
              "ValidatingAdmissionPolicy": 1, "ValidatingAdmissionPolicyBinding": 1},
    # prod queues with Kueue: its CRDs, namespace, RBAC, config, manager, webhooks, and the queues of core.queues
    "prod": {"Namespace": 6, "ConfigMap": 9, "PriorityClass": 3, "ClusterRole": 4, "ClusterRoleBinding": 2,
             "ServiceAccount": 3, "DaemonSet": 3, "Service": 2, "ServiceMonitor": 1, "PrometheusRule": 1,
             "ResourceQuota": 8, "LimitRange": 4, "NetworkPolicy": 12, "RoleBinding": 9,
             "ValidatingAdmissionPolicy": 2, "ValidatingAdmissionPolicyBinding": 2,
             "CustomResourceDefinition": 11, "Role": 2, "Secret": 1, "Deployment": 1,
             "MutatingWebhookConfiguration": 1, "ValidatingWebhookConfiguration": 1,
             "WorkloadPriorityClass": 3, "Topology": 1, "ResourceFlavor": 6, "Cohort": 3, "ClusterQueue": 4,
             "LocalQueue": 4},
}


# Karpenter on eks stacks with Karpenter pools (components/aws/karpenter_controller.py): its CRDs, namespace,
# service account, the chart's two ClusterRoles and two Roles with their bindings, controller, metrics Service and
# PDB; and a NodePool and EC2NodeClass per Karpenter pool.
KARPENTER_KINDS = {"CustomResourceDefinition": 4, "Namespace": 1, "ServiceAccount": 1, "ClusterRole": 2,
                   "ClusterRoleBinding": 2, "Role": 2, "RoleBinding": 2, "Deployment": 1, "Service": 1,
                   "PodDisruptionBudget": 1}
KARPENTER_POOLS = {"local": 0, "dev": 1, "staging": 2, "prod": 3}


@pytest.mark.parametrize("stack", STACKS)
def test_kinds_and_counts_per_stack(stack):
    expected = Counter(EXPECTED_KINDS[stack])
    if KARPENTER_POOLS[stack]:
        expected.update({**KARPENTER_KINDS, "NodePool": KARPENTER_POOLS[stack], "EC2NodeClass": KARPENTER_POOLS[stack]})
    run = stack_run(stack)
    assert len(run.plan.karpenter_pools) == KARPENTER_POOLS[stack]
    assert dict(kinds(run)) == dict(expected)


@pytest.mark.parametrize("stack", STACKS)
def test_every_k8s_resource_uses_the_cluster_provider(stack):
    run = stack_run(stack)
    providers = {r.provider for r in k8s_resources(run)}
    assert len(providers) == 1
    (provider,) = providers
    assert "pulumi:providers:kubernetes" in provider and "gpufleet:cluster:Cluster" in provider


@pytest.mark.parametrize("stack", STACKS)
def test_components_and_type_tokens(stack):
    run = stack_run(stack)
    components = Counter(r.type for r in run.resources if not r.custom and r.type.startswith("gpufleet:"))
    assert components["gpufleet:tenant:Tenant"] == len(run.plan.tenants)
    for token in ("gpufleet:system:SystemNamespace", "gpufleet:scheduling:Scheduling",
                  "gpufleet:device_plugin:DevicePlugin", "gpufleet:monitoring:GpuMonitoring",
                  "gpufleet:tenant_roles:TenantRoles", "gpufleet:admission:TenantAdmission"):
        assert components[token] == 1, token
    for r in k8s_resources(run):
        parent_type = r.urn.split("::")[2].split("$")[-2]  # children are created with parent=self
        assert parent_type in components and parent_type != "gpufleet:platform:GpuPlatform", r.urn


@pytest.mark.parametrize("stack", STACKS)
def test_pool_inventory_configmap(stack):
    run = stack_run(stack)
    cm = by_kind_name(run, "ConfigMap", "gpufleet-node-pools", "gpu-system")
    assert json.loads(cm["data"]["pools.json"]) == run.plan.pool_inventory()
    ns = by_kind_name(run, "Namespace", "gpu-system")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_daemonsets_tolerate_exactly_the_pool_taints(stack):
    run = stack_run(stack)
    expected = list(run.plan.gpu_tolerations)
    for ds in ("nvidia-device-plugin", "dcgm-exporter"):
        pod = by_kind_name(run, "DaemonSet", ds, "gpu-system")["spec"]["template"]["spec"]
        assert pod["tolerations"] == expected
        term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert term == [{"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]}]
        assert pod["priorityClassName"] == "system-node-critical"


def test_prod_device_plugin_tolerates_spot_and_dedicated_taints():
    pod = by_kind_name(stack_run("prod"), "DaemonSet", "nvidia-device-plugin")["spec"]["template"]["spec"]
    assert {(t["key"], t["value"]) for t in pod["tolerations"]} == {
        ("nvidia.com/gpu", "true"), ("gpufleet.io/capacity", "spot"), ("gpufleet.io/tenant", "foundation-models")
    }


@pytest.mark.parametrize("stack", STACKS)
def test_device_plugin_least_privilege(stack):
    run = stack_run(stack)
    pod = by_kind_name(run, "DaemonSet", "nvidia-device-plugin")["spec"]["template"]["spec"]
    host_paths = [v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v]
    assert host_paths == ["/var/lib/kubelet/device-plugins"]
    for container in pod["containers"] + pod["initContainers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert sc["readOnlyRootFilesystem"] is True
        assert container["image"] == f"nvcr.io/nvidia/k8s-device-plugin:{run.plan.device_plugin.version}"
    plugin, sidecar = pod["containers"]
    # The nodes' toolkit ignores NVIDIA_VISIBLE_DEVICES in unprivileged containers and counts CAP_SYS_ADMIN
    # as privileged (NVIDIA/nvidia-container-toolkit, the accept-nvidia-visible-devices-envvar-when-
    # unprivileged check): the plugin alone of its pod keeps it, to see every GPU; the config-manager
    # containers need no GPU.
    assert plugin["securityContext"]["capabilities"]["add"] == ["SYS_ADMIN"]
    assert all("add" not in c["securityContext"]["capabilities"] for c in [sidecar, *pod["initContainers"]])
    sidecar_env = {e["name"]: e.get("value") for e in pod["containers"][1]["env"]}
    assert sidecar_env["NODE_LABEL"] == "nvidia.com/device-plugin.config"
    assert sidecar_env["DEFAULT_CONFIG"] == "gpufleet-default"
    configs = by_kind_name(run, "ConfigMap", "nvidia-device-plugin-configs", "gpu-system")["data"]
    assert set(configs) == {p.name for p in run.plan.pools} | {"gpufleet-default"}


def test_versions_overridable_and_gfd_optional():
    config = stack_config("dev")
    config["devicePlugin"] = {"version": "v0.19.1", "gpuFeatureDiscovery": True}
    config["monitoring"] = {"exporterVersion": "4.6.0-4.8.3-ubuntu22.04"}
    run = run_offline(spec_of(config), "dev-override")
    images = {
        r.inputs["metadata"]["name"]: {c["image"] for c in r.inputs["spec"]["template"]["spec"]["containers"]}
        for r in k8s_resources(run)
        if r.inputs["kind"] == "DaemonSet"
    }
    assert images == {
        "nvidia-device-plugin": {"nvcr.io/nvidia/k8s-device-plugin:v0.19.1"},
        "gpu-feature-discovery": {"nvcr.io/nvidia/k8s-device-plugin:v0.19.1"},
        "dcgm-exporter": {"nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-ubuntu22.04"},
    }
    assert all(":latest" not in i for imgs in images.values() for i in imgs)


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_objects(stack):
    run = stack_run(stack)
    for tenant in run.plan.tenants:
        ns = by_kind_name(run, "Namespace", tenant.name)
        assert ns["metadata"]["labels"]["gpufleet.io/tenant"] == tenant.name
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert ns["metadata"]["annotations"]["gpufleet.io/pools"] == ",".join(tenant.pools)
        quota = by_kind_name(run, "ResourceQuota", "gpufleet-quota", tenant.name)
        assert quota["spec"]["hard"] == dict(tenant.quota)
        deny = by_kind_name(run, "NetworkPolicy", "gpufleet-default-deny", tenant.name)
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        by_kind_name(run, "LimitRange", "gpufleet-limits", tenant.name)
        placement = json.loads(by_kind_name(run, "ConfigMap", "gpufleet-placement", tenant.name)["data"]["placement.json"])
        assert sorted(placement) == sorted(tenant.pools)


def test_prod_quota_values():
    hard = by_kind_name(stack_run("prod"), "ResourceQuota", "gpufleet-quota", "analytics")["spec"]["hard"]
    # queued: the ceiling of its queue, nominal 8 + what it may borrow, at most batch-a10g's 24 GPUs
    assert hard == {"requests.nvidia.com/gpu": "24", "requests.cpu": "64", "requests.memory": "256Gi"}


def _tenant_principal_names(plan) -> dict[str, set[str]]:
    names = {}
    for tenant in plan.tenants:
        principals = tenant.access.admins + tenant.access.editors + tenant.access.viewers
        names[tenant.name] = {p.split(":", 1)[1] if p.startswith(("user:", "group:")) else p for p in principals}
    return names


@pytest.mark.parametrize("stack", STACKS)
def test_rbac_subjects_never_cross_tenants(stack):
    run = stack_run(stack)
    own = _tenant_principal_names(run.plan)
    bindings = [r.inputs for r in k8s_resources(run) if r.inputs["kind"] == "RoleBinding"]
    assert bindings
    for binding in bindings:
        namespace = binding["metadata"]["namespace"]
        if namespace in (KUEUE_NAMESPACE, KARPENTER_NAMESPACE, "kube-system"):  # controllers' own Roles, bound to their ServiceAccounts
            assert [s["kind"] for s in binding["subjects"]] == ["ServiceAccount"] and binding["roleRef"]["kind"] == "Role"
            continue
        assert namespace in own
        assert binding["roleRef"]["kind"] == "ClusterRole"
        assert binding["roleRef"]["name"] in {"gpufleet-tenant-admin", "gpufleet-tenant-edit", "view"}
        for subject in binding["subjects"]:
            assert subject["name"] in own[namespace], (namespace, subject)


@pytest.mark.parametrize("stack", STACKS)
def test_no_cluster_role_binding_to_tenant_principals(stack):
    run = stack_run(stack)
    all_principals = set().union(*_tenant_principal_names(run.plan).values()) if run.plan.tenants else set()
    crbs = [r.inputs for r in k8s_resources(run) if r.inputs["kind"] == "ClusterRoleBinding"]
    for crb in crbs:
        for subject in crb["subjects"]:
            assert subject["kind"] == "ServiceAccount" and subject["namespace"] in ("gpu-system", KUEUE_NAMESPACE,
                                                                                     KARPENTER_NAMESPACE)
            assert subject["name"] not in all_principals
        assert crb["roleRef"]["name"] not in {"cluster-admin", "admin", "edit", "gpufleet-tenant-admin"}


def test_admin_role_excludes_network_policy_writes():
    role = by_kind_name(stack_run("local"), "ClusterRole", "gpufleet-tenant-admin")
    for rule in role["rules"]:
        if "networkpolicies" in rule["resources"] or "resourcequotas" in rule["resources"]:
            assert set(rule["verbs"]) == {"get", "list", "watch"}


def test_eks_access_entries_and_associations():
    run = stack_run("prod")
    entries = [r for r in run.custom_resources if r.type == "aws:eks/accessEntry:AccessEntry" and r.inputs["type"] == "STANDARD"]
    assert len(entries) == 5
    assert all(e.inputs["userName"] == e.inputs["principalArn"] for e in entries)
    assoc = [r for r in run.custom_resources if r.type == "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"]
    assert [(a.inputs["policyArn"], a.inputs["accessScope"]) for a in assoc] == [
        ("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
         {"type": "namespace", "namespaces": ["search-serving"]})
    ]
    assert not [r for r in stack_run("local").custom_resources if r.type.startswith("aws:eks/access")]


def test_priority_classes_registered():
    run = stack_run("staging")
    values = {r.inputs["metadata"]["name"]: (r.inputs["value"], r.inputs["preemptionPolicy"])
              for r in k8s_resources(run) if r.inputs["kind"] == "PriorityClass"}
    assert values == {"gpufleet-critical": (1_000_000, "PreemptLowerPriority"),
                      "gpufleet-standard": (100_000, "PreemptLowerPriority"),
                      "gpufleet-batch": (1_000, "Never")}


def test_monitoring_off_registers_no_exporter_objects():
    config = stack_config("prod")
    config["monitoring"] = {"dcgmExporter": False, "serviceMonitor": True}
    run = run_offline(spec_of(config), "prod-nomon")
    found = kinds(run)
    assert "ServiceMonitor" not in found and "PrometheusRule" not in found
    names = {r.inputs["metadata"]["name"] for r in k8s_resources(run)}
    assert not {"dcgm-exporter", "gpufleet-gpu-dashboard", "dcgm-exporter-collectors"} & names
    assert found["DaemonSet"] == 2  # the device plugin and the EFA device plugin only


def test_service_monitor_off_keeps_exporter_only():
    run = stack_run("dev")
    found = kinds(run)
    assert "ServiceMonitor" not in found and "PrometheusRule" not in found
    service = by_kind_name(run, "Service", "dcgm-exporter", "gpu-system")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9400, "targetPort": "metrics"}]


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_is_applied_with_force(stack):
    """A hand edit makes its field manager own the fields it changed; the provider's next Server-Side Apply of
    them then fails with a conflict unless the object carries `pulumi.com/patchForce: "true"` (or the provider
    forces globally): pulumi/pulumi-kubernetes provider/pkg/await/await.go, patchForce. Without it one edited
    quota blocks every later `pulumi up` of the stack (tests/integration/test_drift_live.py shows it live)."""
    for r in k8s_resources(stack_run(stack)):
        annotations = r.inputs["metadata"].get("annotations") or {}
        assert annotations.get("pulumi.com/patchForce") == "true", r.name
