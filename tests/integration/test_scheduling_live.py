"""The `local` stack on the simulated cluster, scheduled for real: kube-scheduler binds the pods, kube-controller-
manager runs the DaemonSet, ReplicaSet and quota controllers, and kwok plays the kubelets of the simulated
nodes (scripts/local_nodes.py: each pool's labels, taints and the GPU units its device plugin advertises).

What a real cluster decides here is decided by the real programs: where the fleet's GPU daemons run, that
cluster DNS needs the untainted system pool, that a tenant's placement guide lands its pods on its pool and
nowhere else, that the quota stops the pod after gpuQuota, and that a critical pod preempts a batch one.
Uses the session fixture `local_engine` (tests/integration/conftest.py); deploys the stack and destroys it.
"""

from __future__ import annotations

import json
import time

import pytest
from fleet_fixtures import plan_of, stack_config
from local_engine import output_of

from components.kubernetes.admission import RULE_MARKERS
from core.names import (
    DCGM_EXPORTER_APP,
    DEVICE_PLUGIN_APP,
    GPU_PRESENT_LABEL,
    PLACEMENT_CONFIGMAP,
    PLACEMENT_KEY,
    POOL_LABEL,
    PRIORITY_CLASSES,
    SYSTEM_NAMESPACE,
    SYSTEM_POOL,
    TENANT_TAINT_KEY,
)
from gpufleet.kube import KubeClient
from gpufleet.tenancy import QUOTA_MARKER, _container, _pod, writer
from scripts.local_nodes import simulated_nodes

pytestmark = pytest.mark.integration

PLAN = plan_of(stack_config("local"))
NODES = simulated_nodes(PLAN)
GPU_NODES = {n["metadata"]["name"] for n in NODES if n["metadata"]["labels"].get(GPU_PRESENT_LABEL) == "true"}
SYSTEM_NODES = {n["metadata"]["name"] for n in NODES if n["metadata"]["labels"].get(POOL_LABEL) == SYSTEM_POOL}
POOL_OF_NODE = {n["metadata"]["name"]: n["metadata"]["labels"][POOL_LABEL] for n in NODES}
WAIT_S = 60


@pytest.fixture(scope="module")
def cluster(local_engine):
    up = local_engine.pulumi("up", "--yes", "--skip-preview", "--stack", "local", timeout=900)
    assert up.returncode == 0, f"pulumi up failed:\n{output_of(up)}"
    client = KubeClient.from_kubeconfig(str(local_engine.api.kubeconfig), local_engine.api.context)
    # The quota admission needs the hard limits the quota controller copies into the status.
    for tenant in PLAN.tenants:
        wait_for(f"quota status of {tenant.name}", lambda: "requests.nvidia.com/gpu" in (client.get(
            f"/api/v1/namespaces/{tenant.name}/resourcequotas/gpufleet-quota").body.get("status") or {}).get("hard", {}))
    yield client
    down = local_engine.pulumi("destroy", "--yes", "--skip-preview", "--stack", "local", timeout=900)
    assert down.returncode == 0, f"pulumi destroy failed:\n{output_of(down)}"


def pods(client: KubeClient, namespace: str, selector: str) -> list[dict]:
    reply = client.get(f"/api/v1/namespaces/{namespace}/pods", query={"labelSelector": selector})
    assert reply.ok, reply.message
    return reply.body["items"]


def wait_for(what: str, check, timeout: float = WAIT_S):
    """check() until it returns something true; fails with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"{what}: not after {timeout} s"
            return value
        time.sleep(0.5)


def running(client: KubeClient, namespace: str, selector: str, count: int) -> list[dict]:
    def check():
        found = pods(client, namespace, selector)
        ok = [p for p in found if p["status"].get("phase") == "Running" and p["spec"].get("nodeName")]
        return ok if len(ok) == count and len(found) == count else None

    return wait_for(f"{count} running pods {selector} in {namespace}", check)


def delete_pods(client: KubeClient, namespace: str, selector: str) -> None:
    client.request("DELETE", f"/api/v1/namespaces/{namespace}/pods", query={"labelSelector": selector,
                                                                          "gracePeriodSeconds": "0"})
    wait_for(f"pods {selector} gone from {namespace}", lambda: not pods(client, namespace, selector))


def unschedulable_reason(client: KubeClient, namespace: str, name: str) -> str:
    """The scheduler's verdict on a pod it cannot place (its PodScheduled condition), once it has one."""

    def check():
        pod = client.get(f"/api/v1/namespaces/{namespace}/pods/{name}").body
        assert not pod["spec"].get("nodeName"), f"{name} was scheduled onto {pod['spec'].get('nodeName')}"
        return next((c.get("message") for c in pod["status"].get("conditions") or []
                     if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"), None)

    return wait_for(f"{namespace}/{name} reported unschedulable", check)


def placement_guide(client: KubeClient, tenant: str, pool: str) -> dict:
    """The tenant's placement guide for the pool, as its gpufleet-placement ConfigMap publishes it."""
    reply = client.get(f"/api/v1/namespaces/{tenant}/configmaps/{PLACEMENT_CONFIGMAP}")
    assert reply.ok, reply.message
    return json.loads(reply.body["data"][PLACEMENT_KEY])[pool]


def tenant_gpu_pod(client: KubeClient, tenant: str, pool: str, name: str, *, priority_class: str | None = None,
                   units: int = 1, resource: str | None = None) -> dict:
    """A GPU pod exactly as the tenant's placement guide says (its first GPU resource unless one is named)."""
    guide = placement_guide(client, tenant, pool)
    resource = resource or guide["gpuResources"][0]
    assert resource in guide["gpuResources"], (resource, guide["gpuResources"])
    count = str(units)
    resources = {"limits": {resource: count}, "requests": {resource: count}}
    pod = _pod(name, tenant, [_container(resources)], nodeSelector=guide["nodeSelector"],
               tolerations=guide["tolerations"], priorityClassName=priority_class or guide["priorityClassName"])
    pod["metadata"]["labels"]["gpufleet.io/test"] = name.rsplit("-", 1)[0]
    return pod


def create_as_tenant(client: KubeClient, tenant: str, pod: dict):
    """Create the pod as the tenant's own admin or editor would (impersonated)."""
    return client.post(f"/api/v1/namespaces/{tenant}/pods", pod, impersonate=writer(PLAN.tenant(tenant)))


def test_gpu_daemons_run_on_every_gpu_node_and_nowhere_else(cluster):
    """`pulumi up` waited for both DaemonSets (awaitWorkloads); the DaemonSet controller and the scheduler put
    one pod on each GPU node, none on the system nodes (the daemons select nvidia.com/gpu.present=true and
    tolerate exactly the pools' taints)."""
    for app in (DEVICE_PLUGIN_APP, DCGM_EXPORTER_APP):
        placed = running(cluster, SYSTEM_NAMESPACE, f"app.kubernetes.io/name={app}", len(GPU_NODES))
        assert {p["spec"]["nodeName"] for p in placed} == GPU_NODES, app
        status = cluster.get(f"/apis/apps/v1/namespaces/{SYSTEM_NAMESPACE}/daemonsets/{app}").body["status"]
        assert status["numberReady"] == status["desiredNumberScheduled"] == len(GPU_NODES), status


# CoreDNS's own placement, from the upstream add-on manifest (k8s.io/kubernetes v1.36.3,
# cluster/addons/dns/coredns/coredns.yaml.base): system-cluster-critical, linux nodes, tolerates only
# CriticalAddonsOnly, spread over hostnames. The EKS add-on adds a control-plane toleration, which no node has.
COREDNS_POD = {
    "priorityClassName": "system-cluster-critical",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "podAffinityTerm": {"labelSelector": {"matchExpressions": [
            {"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]}, "topologyKey": "kubernetes.io/hostname"}}]}},
    "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.14.2",
                    "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}}}],
}


def test_cluster_dns_runs_on_the_system_pool_and_nowhere_else(cluster):
    """Every GPU node is tainted nvidia.com/gpu: CoreDNS lands on the system pool; with the system pool
    cordoned, it cannot schedule at all (what an EKS cluster of GPU pools alone did: the add-on degraded)."""
    selector = "k8s-app=kube-dns"
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": COREDNS_POD}},
    }
    created = cluster.post("/apis/apps/v1/namespaces/kube-system/deployments", deployment)
    assert created.ok, created.message
    try:
        placed = running(cluster, "kube-system", selector, 2)
        assert {p["spec"]["nodeName"] for p in placed} <= SYSTEM_NODES, placed
        for node in SYSTEM_NODES:
            cordon = cluster.merge_patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": True}})
            assert cordon.ok, cordon.message
        stray = _pod("coredns-stray", "kube-system", COREDNS_POD["containers"],
                     **{k: v for k, v in COREDNS_POD.items() if k != "containers"})
        assert cluster.post("/api/v1/namespaces/kube-system/pods", stray).ok
        reason = unschedulable_reason(cluster, "kube-system", stray["metadata"]["name"])
        assert f"{len(GPU_NODES)} node(s) had untolerated taint(s)" in reason, reason
        assert f"{len(SYSTEM_NODES)} node(s) were unschedulable" in reason, reason
    finally:
        for node in SYSTEM_NODES:
            cluster.merge_patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": False}})
        cluster.request("DELETE", "/apis/apps/v1/namespaces/kube-system/deployments/coredns")
        cluster.request("DELETE", "/api/v1/namespaces/kube-system/pods/gpufleet-probe-coredns-stray")


@pytest.mark.parametrize("tenant", [t.name for t in PLAN.tenants])
def test_a_pod_from_the_placement_guide_runs_on_the_tenants_pool(cluster, tenant):
    """One pod per GPU resource the guide names (a MIG mixed pool names one per profile: team-research's A100
    pool advertises mig-1g.5gb, mig-2g.10gb and mig-3g.20gb), each bound to a node of the pool."""
    plan = PLAN.tenant(tenant)
    for pool in plan.pools:
        for i, resource in enumerate(placement_guide(cluster, tenant, pool)["gpuResources"]):
            name = f"placed-{pool}-{i}"
            created = create_as_tenant(cluster, tenant, tenant_gpu_pod(cluster, tenant, pool, name, resource=resource))
            assert created.ok, created.message
            placed = running(cluster, tenant, f"gpufleet.io/probe={name}", 1)
            assert POOL_OF_NODE[placed[0]["spec"]["nodeName"]] == pool
            delete_pods(cluster, tenant, f"gpufleet.io/probe={name}")


def test_another_tenants_dedicated_pool_is_out_of_reach(cluster):
    """team-research's pool is dedicated (tainted gpufleet.io/tenant=team-research). team-batch's pod aimed at
    it is refused at admission; the same pod created outside any tenant namespace (no admission policy) is
    left unscheduled by the scheduler, and it schedules once it also tolerates the owner's taint: that taint
    alone keeps it out."""
    owner = next(t for t in PLAN.tenants if t.isolation == "dedicated")
    pool = owner.pools[0]
    outsider = next(t for t in PLAN.tenants if pool not in t.pools and t.priority != "critical")
    own = tenant_gpu_pod(cluster, owner.name, pool, "dedicated-aim")
    aimed = tenant_gpu_pod(cluster, outsider.name, outsider.pools[0], "dedicated-aim")
    aimed["spec"]["nodeSelector"] = own["spec"]["nodeSelector"]
    aimed["spec"]["containers"] = own["spec"]["containers"]
    aimed["spec"]["tolerations"] = [t for t in own["spec"]["tolerations"] if t["key"] != TENANT_TAINT_KEY]
    refused = create_as_tenant(cluster, outsider.name, aimed)
    assert refused.status == 403 and RULE_MARKERS["pool-selected"] in refused.message, refused.message

    aimed["metadata"]["namespace"] = "default"
    aimed["spec"]["priorityClassName"] = PRIORITY_CLASSES["standard"]
    assert cluster.post("/api/v1/namespaces/default/pods", aimed).ok
    pool_nodes = [n for n, p in POOL_OF_NODE.items() if p == pool]
    try:
        reason = unschedulable_reason(cluster, "default", aimed["metadata"]["name"])
        assert f"{len(pool_nodes)} node(s) had untolerated taint(s)" in reason, reason
        delete_pods(cluster, "default", "gpufleet.io/probe=dedicated-aim")
        aimed["spec"]["tolerations"] = own["spec"]["tolerations"]
        assert cluster.post("/api/v1/namespaces/default/pods", aimed).ok
        placed = running(cluster, "default", "gpufleet.io/probe=dedicated-aim", 1)
        assert placed[0]["spec"]["nodeName"] in pool_nodes
    finally:
        delete_pods(cluster, "default", "gpufleet.io/probe=dedicated-aim")


def test_pods_up_to_the_quota_run_and_the_next_is_refused(cluster):
    tenant = next(t for t in PLAN.tenants if t.priority == "critical")
    pool = tenant.pools[0]
    for i in range(tenant.gpu_quota):
        created = create_as_tenant(cluster, tenant.name, tenant_gpu_pod(cluster, tenant.name, pool, f"quota-{i}"))
        assert created.ok, (i, created.message)
    running(cluster, tenant.name, "gpufleet.io/test=quota", tenant.gpu_quota)
    over = create_as_tenant(cluster, tenant.name, tenant_gpu_pod(cluster, tenant.name, pool, f"quota-{tenant.gpu_quota}"))
    assert over.status == 403 and QUOTA_MARKER in over.message, (over.status, over.message)
    delete_pods(cluster, tenant.name, "gpufleet.io/test=quota")


def test_a_critical_pod_preempts_a_batch_pod_on_a_full_pool(cluster):
    """team-batch fills the shared inference pool; team-vision's critical pod gets a GPU anyway: the scheduler
    evicts one batch pod (gpufleet-batch is the lowest class) and binds the critical pod in its place. A batch
    tenant's own critical pod is refused by its priority-class quota."""
    critical = next(t for t in PLAN.tenants if t.priority == "critical")
    batch = next(t for t in PLAN.tenants if t.priority == "batch" and critical.pools[0] in t.pools)
    pool = PLAN.pool(critical.pools[0])
    units = next(iter(pool.gpu_resources.values())) * len([n for n in POOL_OF_NODE.values() if n == pool.name])
    assert units <= batch.gpu_quota, "the batch tenant's quota must be able to fill the pool"
    for i in range(units):
        assert create_as_tenant(cluster, batch.name, tenant_gpu_pod(cluster, batch.name, pool.name, f"filler-{i}")).ok
    running(cluster, batch.name, "gpufleet.io/test=filler", units)

    refused = create_as_tenant(cluster, batch.name, tenant_gpu_pod(
        cluster, batch.name, pool.name, "filler-critical", priority_class=PRIORITY_CLASSES["critical"]))
    assert refused.status == 403 and QUOTA_MARKER in refused.message, (refused.status, refused.message)

    created = create_as_tenant(cluster, critical.name, tenant_gpu_pod(cluster, critical.name, pool.name, "preemptor-0"))
    assert created.ok, created.message
    placed = running(cluster, critical.name, "gpufleet.io/test=preemptor", 1)
    assert POOL_OF_NODE[placed[0]["spec"]["nodeName"]] == pool.name
    left = wait_for("one batch pod preempted", lambda: (
        found if len(found := pods(cluster, batch.name, "gpufleet.io/test=filler")) == units - 1 else None))
    assert all(p["spec"]["priorityClassName"] == PRIORITY_CLASSES["batch"] for p in left)
    delete_pods(cluster, critical.name, "gpufleet.io/test=preemptor")
    delete_pods(cluster, batch.name, "gpufleet.io/test=filler")
