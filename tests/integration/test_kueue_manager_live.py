"""The real Kueue manager (tools/build.sh's kueue, started by kueue_manager.py) on the local control plane: its
webhooks are wired (a rule only the webhook enforces is enforced) and it admits a queued batch/v1 Job."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kueue_manager import (
    QUEUE_LABEL,
    RUN_FOR,
    WEBHOOK_API,
    KueueManager,
    KueueManagerError,
    cluster_queue,
    condition_true,
    kueue_binary,
)
from local_engine import build_tools

pytestmark = pytest.mark.integration

KUEUE_API = "/apis/kueue.x-k8s.io/v1beta2"


def manager(local_cluster, workdir: Path, config: dict) -> KueueManager:
    return KueueManager(local_cluster.api.kubeconfig, kueue_binary(build_tools(("kueue",))),
                        context=local_cluster.api.context, config=config, workdir=workdir)


@pytest.fixture(scope="module")
def kueue(local_cluster, tmp_path_factory):
    # The program's Configuration (fair sharing on), made local by the harness.
    with manager(local_cluster, tmp_path_factory.mktemp("kueue"), {}) as running:
        yield running


@pytest.fixture
def cleanup(kueue):
    """Paths to DELETE after the test, last added first; each is waited for while the manager still runs
    (it removes the finalizers of ClusterQueues, ResourceFlavors and Workloads)."""
    paths: list[str] = []
    yield paths
    for path in reversed(paths):
        kueue.client.request("DELETE", path, query={"propagationPolicy": "Background"})
    for path in reversed(paths):
        wait_for(lambda: kueue.client.get(path).status == 404, 120, f"{path} to be deleted")


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def test_the_webhook_rejects_a_cluster_queue_lending_more_than_its_quota(kueue, cleanup):
    # lendingLimit <= nominalQuota is checked by the ClusterQueue webhook only, not by the CRD's schema
    # (pkg/webhooks/clusterqueue_webhook.go, validateLendingLimit): a denial proves the webhook is called.
    name = f"lends-too-much-{uuid.uuid4().hex[:6]}"
    queue = cluster_queue(name, "default-flavor", {"cpu": "1"}, cohort="lenders", lending={"cpu": "2"})
    reply = kueue.client.post(f"{KUEUE_API}/clusterqueues", queue)
    if reply.ok:
        cleanup.append(f"{KUEUE_API}/clusterqueues/{name}")
    assert not reply.ok, reply.body
    assert 'admission webhook "vclusterqueue.kb.io" denied the request' in reply.message
    assert "must be less than or equal to the nominalQuota" in reply.message


def test_a_queued_job_is_suspended_then_admitted(kueue, cleanup):
    client, suffix = kueue.client, uuid.uuid4().hex[:6]
    namespace, flavor, queue = f"kueue-{suffix}", f"flavor-{suffix}", f"cq-{suffix}"
    created = [
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        (f"{KUEUE_API}/resourceflavors",
         {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "ResourceFlavor", "metadata": {"name": flavor}}),
        # cpu only: what the simulated nodes offer (scripts/local_nodes.py) and what the Job requests.
        (f"{KUEUE_API}/clusterqueues", cluster_queue(queue, flavor, {"cpu": "2"})),
        (f"{KUEUE_API}/namespaces/{namespace}/localqueues",
         {"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "LocalQueue",
          "metadata": {"name": "team", "namespace": namespace}, "spec": {"clusterQueue": queue}}),
    ]
    for collection, body in created:
        reply = client.post(collection, body)
        assert reply.ok, (collection, reply.status, reply.message)
        cleanup.append(f"{collection}/{body['metadata']['name']}")
    wait_for(lambda: condition_true(client.get(f"{KUEUE_API}/clusterqueues/{queue}").body, "Active"), 60,
             f"ClusterQueue {queue} to be Active")

    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "work", "namespace": namespace, "labels": {QUEUE_LABEL: "team"}},
           "spec": {"suspend": False, "template": {
               "metadata": {"annotations": RUN_FOR},
               "spec": {"restartPolicy": "Never", "containers": [{
                   "name": "work", "image": "busybox", "resources": {"requests": {"cpu": "500m"}}}]}}}}
    jobs = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    reply = client.post(jobs, job)
    assert reply.ok, reply.message
    cleanup.append(f"{jobs}/work")
    assert reply.body["spec"]["suspend"] is True  # the mutating webhook (mjob.kb.io), on create

    wait_for(lambda: client.get(f"{jobs}/work").body["spec"].get("suspend") is False, 60, "the Job to be unsuspended")
    uid = reply.body["metadata"]["uid"]
    workloads = client.get(f"{KUEUE_API}/namespaces/{namespace}/workloads").body["items"]
    (workload,) = [w for w in workloads if any(o.get("uid") == uid for o in w["metadata"].get("ownerReferences", []))]
    assert condition_true(workload, "Admitted"), workload.get("status")
    assert workload["status"]["admission"]["clusterQueue"] == queue

    # The admitted Job's pod is scheduled and run by the simulated kubelet, and keeps running past kwok's
    # default completion delay (at most 5 s) thanks to RUN_FOR.
    pods = f"/api/v1/namespaces/{namespace}/pods?labelSelector=batch.kubernetes.io/job-name%3Dwork"
    running = lambda: [p for p in client.get(pods).body["items"] if p["status"].get("phase") == "Running"]  # noqa: E731
    wait_for(running, 60, "the Job's pod to run")
    time.sleep(6)
    assert running(), [p["status"].get("phase") for p in client.get(pods).body["items"]]


def test_a_manager_that_cannot_start_raises_with_its_log_and_leaves_no_webhook(local_cluster, kueue, tmp_path):
    # The Configuration is decoded strictly (pkg/config/config.go): an unknown field ends the process.
    broken = manager(local_cluster, tmp_path, {"notAField": True})
    with pytest.raises(KueueManagerError, match="unknown field"):
        broken.start(timeout=60)
    assert not broken.running
    for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        assert kueue.client.get(f"{WEBHOOK_API}/{kind}/{broken.name}").status == 404
