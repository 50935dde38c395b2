"""Fair sharing for real: the program's Kueue objects with the real Kueue manager, kube-scheduler and the
simulated kubelets of the local control plane.

Two tenants share the local stack's time-sliced L4 pool (2 nodes x 4 units): nominal 4 units each, one
cohort. Everything a tenant meets is what the program renders for this config (gpufleet render's manifests):
its namespace (Pod Security restricted), ResourceQuotas (the queue's ceiling) and LimitRange, the fleet's
pod admission policy and the queue-name policy, and the Kueue objects; the manager runs with the program's
Configuration (tests/integration/kueue_manager.py). Then:

- the batch tenant's Jobs are admitted up to its nominal quota, and with the other tenant idle it borrows
  its 4 units: 8 Jobs run, their pods placed on the pool by the flavor Kueue injects;
- when the serving tenant submits, Kueue preempts the borrowed Jobs and admits the owner's;
- a GPU Job without a queue name is refused in a tenant namespace; and every rendered Kueue object of
  the prod stack passes the real API server's schema and CEL rules and the manager's webhooks (dry run).
"""

from __future__ import annotations

import time
import uuid

import pytest
from fleet_fixtures import STACKS, spec_of, stack_config, stack_run
from kueue_manager import RUN_FOR, KueueManager, condition_true, kueue_binary
from local_engine import build_tools

from components.kubernetes.queues import QUEUE_POLICY, QUEUE_REQUIRED_MESSAGE
from core.names import GPU_RESOURCE, KUEUE_API_VERSION, POOL_LABEL, QUEUE_NAME_LABEL
from gpufleet.offline import run_offline
from gpufleet.render import manifest_documents
from scripts.local_nodes import apply as apply_nodes
from scripts.local_nodes import pool_nodes

pytestmark = pytest.mark.integration

POOL = "inference-l4"
BATCH, SERVE = "queue-batch", "queue-serve"
KUEUE = f"/apis/{KUEUE_API_VERSION}"
KUEUE_PLURALS = {"ResourceFlavor": "resourceflavors", "Cohort": "cohorts", "ClusterQueue": "clusterqueues",
                 "LocalQueue": "localqueues", "WorkloadPriorityClass": "workloadpriorityclasses", "Topology": "topologies"}
CORE_PLURALS = {"Namespace": "namespaces", "ResourceQuota": "resourcequotas", "LimitRange": "limitranges"}
ADMISSION = "/apis/admissionregistration.k8s.io/v1"
WAIT_S = 90


def queued_config() -> dict:
    """The local stack with queues on and two tenants on its time-sliced pool, both nodes of it up."""
    config = stack_config("local")
    config["queues"] = {"enabled": True}
    (pool,) = [p for p in config["nodePools"] if p["name"] == POOL]
    pool["desiredSize"] = pool["maxSize"]
    config["tenants"] = [
        {"name": BATCH, "gpuQuota": 4, "pools": [POOL], "cudaVersions": ["12.4"], "priority": "batch"},
        {"name": SERVE, "gpuQuota": 4, "pools": [POOL], "cudaVersions": ["12.4"], "priority": "standard"},
    ]
    return config


def path_of(obj: dict) -> str:
    """The object's collection path."""
    kind, namespace = obj["kind"], obj["metadata"].get("namespace")
    if kind in KUEUE_PLURALS:
        base, plural = KUEUE, KUEUE_PLURALS[kind]
    elif kind in CORE_PLURALS:
        base, plural = "/api/v1", CORE_PLURALS[kind]
    else:
        base, plural = ADMISSION, {"ValidatingAdmissionPolicy": "validatingadmissionpolicies",
                                   "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings"}[kind]
    return f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"


def wait_for(what: str, check, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"{what}: not after {timeout} s"
            return value
        time.sleep(0.5)


@pytest.fixture(scope="module")
def kueue(local_cluster, tmp_path_factory):
    with KueueManager(local_cluster.api.kubeconfig, kueue_binary(build_tools(("kueue",))),
                      context=local_cluster.api.context, workdir=tmp_path_factory.mktemp("kueue")) as running:
        yield running


@pytest.fixture(scope="module")
def fleet(kueue):
    """The rendered tenant, admission and queue objects of queued_config(), applied; removed at the end
    (while the manager still runs: it holds finalizers on flavors, queues and workloads)."""
    client = kueue.client
    run = run_offline(spec_of(queued_config()), "queues-live")
    documents = list(manifest_documents(run).values())
    tenants = {t.name for t in run.plan.tenants}
    wanted = [d for d in documents if d["kind"] == "Namespace" and d["metadata"]["name"] in tenants]
    wanted += [d for d in documents if d["kind"] in ("ResourceQuota", "LimitRange") and d["metadata"]["namespace"] in tenants]
    wanted += [d for d in documents if d["kind"].startswith("ValidatingAdmissionPolicy")]
    wanted += [d for d in documents if d["apiVersion"] == KUEUE_API_VERSION]
    created: list[str] = []
    extra_nodes = [n for n in pool_nodes(run.plan.pool(POOL))]
    apply_nodes(client, extra_nodes)  # the stack's second L4 node (the local stack starts one)
    try:
        for obj in wanted:
            reply = client.post(path_of(obj), obj)
            assert reply.ok, (obj["kind"], obj["metadata"]["name"], reply.status, reply.message)
            created.append(f"{path_of(obj)}/{obj['metadata']['name']}")
        for tenant in tenants:
            wait_for(f"ClusterQueue {tenant} active",
                     lambda t=tenant: condition_true(client.get(f"{KUEUE}/clusterqueues/{t}").body, "Active"))
            wait_for(f"quota status of {tenant}", lambda t=tenant: GPU_RESOURCE in str(
                client.get(f"/api/v1/namespaces/{t}/resourcequotas/gpufleet-quota").body.get("status")))
        yield run.plan, client
    finally:
        for path in reversed(created):  # namespaces (with their Jobs and workloads) last of all
            client.request("DELETE", path, query={"propagationPolicy": "Background"})
        for path in reversed(created):
            wait_for(f"{path} deleted", lambda p=path: client.get(p).status == 404, 180)
        for node in extra_nodes[1:]:
            client.request("DELETE", f"/api/v1/nodes/{node['metadata']['name']}")


def gpu_job(name: str, namespace: str, queue: str | None = None) -> dict:
    """A one-unit GPU Job as a tenant writes it: Pod Security restricted, GPU requests equal to limits, no
    pool chosen (the queue's flavor adds the pool's nodeSelector and tolerations when it admits the Job)."""
    labels = {QUEUE_NAME_LABEL: queue} if queue else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"backoffLimit": 0, "template": {"metadata": {"annotations": RUN_FOR}, "spec": {
                "restartPolicy": "Never",
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "cuda", "image": "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi", GPU_RESOURCE: "1"},
                                  "limits": {"cpu": "100m", "memory": "128Mi", GPU_RESOURCE: "1"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                }]}}}}


def submit(client, namespace: str, count: int, prefix: str) -> list[str]:
    names = []
    for i in range(count):
        name = f"{prefix}-{i}"
        reply = client.post(f"/apis/batch/v1/namespaces/{namespace}/jobs", gpu_job(name, namespace, namespace))
        assert reply.ok, reply.message
        assert reply.body["spec"]["suspend"] is True  # queued: Kueue's webhook suspends it on create
        names.append(name)
    return names


def workloads(client, namespace: str) -> list[dict]:
    return client.get(f"{KUEUE}/namespaces/{namespace}/workloads").body["items"]


def admitted(client, namespace: str) -> list[dict]:
    return [w for w in workloads(client, namespace) if condition_true(w, "Admitted")]


def running_pods(client, namespace: str) -> list[dict]:
    items = client.get(f"/api/v1/namespaces/{namespace}/pods").body["items"]
    return [p for p in items if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def test_borrowing_and_reclaim_between_two_tenants(fleet):
    plan, client = fleet
    queues = plan.queues
    assert queues.tenant(BATCH).nominal(POOL) == queues.tenant(SERVE).nominal(POOL) == 4
    assert queues.cohort_of(BATCH).name == queues.cohort_of(SERVE).name

    # Up to its nominal quota: 4 Jobs admitted and running on the pool, placed there by the flavor.
    submit(client, BATCH, 4, "own")
    wait_for("4 batch Jobs admitted", lambda: len(admitted(client, BATCH)) == 4)
    pods = wait_for("4 batch pods running", lambda: (p := running_pods(client, BATCH)) and len(p) == 4 and p)
    assert {p["spec"]["nodeSelector"][POOL_LABEL] for p in pods} == {POOL}
    assert all(p["spec"]["nodeName"].startswith(POOL) for p in pods)

    # The serving tenant is idle: the batch tenant borrows its 4 units.
    submit(client, BATCH, 4, "borrowed")
    wait_for("8 batch Jobs admitted", lambda: len(admitted(client, BATCH)) == 8)
    wait_for("8 batch pods running", lambda: len(running_pods(client, BATCH)) == 8)
    # The ClusterQueue's status follows its workloads' conditions a moment later (the manager batches updates).
    wait_for("the batch ClusterQueue counting 8 admitted", lambda: client.get(
        f"{KUEUE}/clusterqueues/{BATCH}").body.get("status", {}).get("admittedWorkloads") == 8)

    # The owner submits: the borrowed Jobs are preempted and the owner's admitted.
    submit(client, SERVE, 4, "owner")
    wait_for("4 serving Jobs admitted", lambda: len(admitted(client, SERVE)) == 4)
    wait_for("batch back to its nominal 4", lambda: len(admitted(client, BATCH)) == 4)
    preempted = [w for w in workloads(client, BATCH) if condition_true(w, "Preempted")]
    assert len(preempted) == 4, [w.get("status", {}).get("conditions") for w in workloads(client, BATCH)]
    reasons = {c["reason"] for w in preempted for c in w["status"]["conditions"] if c["type"] == "Preempted"}
    assert reasons <= {"InCohortReclamation", "InCohortFairSharing"}, reasons
    wait_for("4 serving pods running", lambda: len(running_pods(client, SERVE)) == 4)
    wait_for("4 batch pods left", lambda: len(running_pods(client, BATCH)) == 4)


def test_a_gpu_job_without_a_queue_is_refused(fleet):
    _, client = fleet
    reply = client.post(f"/apis/batch/v1/namespaces/{SERVE}/jobs", gpu_job("unqueued", SERVE), dry_run=True)
    assert reply.status in (403, 422) and QUEUE_REQUIRED_MESSAGE in reply.message, reply.message
    assert QUEUE_POLICY in reply.message
    cpu_only = gpu_job("cpu-only", SERVE)
    for side in ("requests", "limits"):
        del cpu_only["spec"]["template"]["spec"]["containers"][0]["resources"][side][GPU_RESOURCE]
    reply = client.post(f"/apis/batch/v1/namespaces/{SERVE}/jobs", cpu_only, dry_run=True)
    assert reply.ok, reply.message  # the queue is for GPUs only


@pytest.mark.parametrize("stack", [s for s in STACKS if stack_config(s).get("queues", {}).get("enabled")])
def test_every_rendered_kueue_object_passes_the_api_server_and_the_webhooks(fleet, stack):
    _, client = fleet
    documents = [d for d in manifest_documents(stack_run(stack)).values() if d["apiVersion"] == KUEUE_API_VERSION]
    assert documents
    suffix = uuid.uuid4().hex[:6]
    for obj in documents:
        # a name of its own (the live fleet's objects exist), a LocalQueue in a namespace that exists here
        meta = {**obj["metadata"], "name": f"{obj['metadata']['name']}-{suffix}"}
        if obj["kind"] == "LocalQueue":
            meta["namespace"] = BATCH
        obj = {**obj, "metadata": meta}
        reply = client.post(path_of(obj), obj, dry_run=True)
        assert reply.ok, (obj["kind"], obj["metadata"]["name"], reply.status, reply.message)
