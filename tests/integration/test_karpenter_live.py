"""Elastic pools for real: the NodePools the program renders for Karpenter pools, run by Karpenter's own core (its
KWOK cloud provider, tests/integration/karpenter_kwok.py) on the local control plane with the real kube-scheduler
and kwok's simulated kubelets. Only the node class reference differs from what the program deploys.

The pools (an eks stack, three Karpenter pools of L4 instance types, on the simulated cloud at the catalog's
prices) and what is checked:

- a pending GPU pod of a pool gets a new node of that pool, with the pool's labels and taints and the requested
  capacity type (on-demand and spot), and the scheduler places the pod there;
- a pool at its limit (maxSize nodes) gets no more nodes: a second pod stays pending;
- a training pool (consolidation WhenEmpty) keeps a busy, underutilized node, while a batch pool
  (WhenEmptyOrUnderutilized) with the same node replaces it by a cheaper one: the contrast shows that it is
  the policy that keeps the training node;
- an empty node is removed after consolidateAfter;
- every NodePool and EC2NodeClass the program renders for the example stacks (the golden files) passes the real
  API server's validation of the vendored CRDs, CEL rules included, and one that breaks a CEL rule does not.
"""

from __future__ import annotations

import time

import pytest
import yaml
from fleet_fixtures import ROOT, spec_of, stack_config
from karpenter_kwok import LOCAL_NODE_CLASS, KarpenterKwok, karpenter_binary
from kueue_manager import RUN_FOR
from local_engine import build_tools

from core.karpenter import CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, NODEPOOL_LABEL, node_pool
from core.names import GPU_RESOURCE, POOL_LABEL
from core.plan import plan_fleet

pytestmark = pytest.mark.integration

NAMESPACE = "karpenter-live"
NODEPOOLS = "/apis/karpenter.sh/v1/nodepools"
NODECLAIMS = "/apis/karpenter.sh/v1/nodeclaims"
NODECLASSES = "/apis/karpenter.k8s.aws/v1/ec2nodeclasses"
GOLDEN = ROOT / "tests" / "gpufleet" / "golden"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
SMALL, LARGE = "g6.xlarge", "g6.2xlarge"  # one L4 each; 4 and 8 CPUs, the larger one dearer
CONSOLIDATE_AFTER_S = 5
WAIT_S = 120


def elastic_config() -> dict:
    """The prod stack (eks) with three Karpenter pools (minSize 0) and no tenants."""
    config = stack_config("prod")
    disruption = {"consolidateAfter": f"{CONSOLIDATE_AFTER_S}s"}
    both = [SMALL, LARGE]
    config["nodePools"] = [
        {"name": "train-l4", "instanceTypes": both, "workload": "training", "maxSize": 1, "disruption": disruption},
        {"name": "batch-l4", "instanceTypes": both, "workload": "batch", "maxSize": 2, "disruption": disruption},
        {"name": "spot-l4", "instanceTypes": [SMALL], "capacity": "spot", "workload": "batch", "maxSize": 1,
         "disruption": disruption},
    ]
    config["tenants"] = []
    config["queues"] = {"enabled": False}
    return config


def wait_for(what: str, check, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"{what}: not after {timeout} s"
            return value
        time.sleep(0.5)


@pytest.fixture(scope="module")
def pools():
    plan = plan_fleet(spec_of(elastic_config()))
    assert {p.name: p.provisioner for p in plan.pools} == dict.fromkeys(("train-l4", "batch-l4", "spot-l4"), "karpenter")
    return {p.name: p for p in plan.pools}


@pytest.fixture(scope="module")
def cluster(local_cluster, tmp_path_factory, pools):
    """Karpenter running, the rendered NodePools applied and a namespace for the pods; NodePools removed at the
    end while Karpenter runs (it deletes their nodes)."""
    with KarpenterKwok(local_cluster.api.kubeconfig, karpenter_binary(build_tools(("karpenter-kwok",))),
                       instance_types=[SMALL, LARGE], context=local_cluster.api.context,
                       workdir=tmp_path_factory.mktemp("karpenter")) as karpenter:
        client = karpenter.client
        assert client.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": NAMESPACE}}).status in (201, 409)
        try:
            for pool in pools.values():
                reply = client.post(NODEPOOLS, node_pool(pool, LOCAL_NODE_CLASS))
                assert reply.ok, (pool.name, reply.status, reply.message)
            yield client, karpenter
        finally:
            client.request("DELETE", f"/api/v1/namespaces/{NAMESPACE}")
            for name in pools:
                client.request("DELETE", f"{NODEPOOLS}/{name}")
            wait_for("Karpenter's nodes gone", lambda: not claims(client), 180)


def claims(client, pool: str | None = None) -> list[dict]:
    query = {"labelSelector": f"{NODEPOOL_LABEL}={pool}"} if pool else {"labelSelector": NODEPOOL_LABEL}
    return client.get(NODECLAIMS, query=query).body.get("items", [])


def pool_nodes(client, pool: str) -> list[dict]:
    return client.get("/api/v1/nodes", query={"labelSelector": f"{NODEPOOL_LABEL}={pool}"}).body.get("items", [])


def ready(node: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))


def pod(name: str, pool, *, gpus: int = 1, cpu: str = "100m") -> dict:
    """A pod for one pool as a tenant writes it: the pool's node selector and tolerations, GPU requests equal to
    limits; kwok keeps it running (RUN_FOR)."""
    requests = {"cpu": cpu, "memory": "128Mi", **({GPU_RESOURCE: str(gpus)} if gpus else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE, "annotations": RUN_FOR},
            "spec": {"nodeSelector": {POOL_LABEL: pool.name}, "tolerations": pool.tolerations,
                     "containers": [{"name": "cuda", "image": "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
                                     "resources": {"requests": requests,
                                                   "limits": {GPU_RESOURCE: str(gpus)} if gpus else {}}}]}}


def create(client, obj: dict) -> None:
    reply = client.post(PODS, obj)
    assert reply.ok, (obj["metadata"]["name"], reply.status, reply.message)


def node_of(client, name: str) -> str:
    return client.get(f"{PODS}/{name}").body.get("spec", {}).get("nodeName", "")


def delete_pod(client, name: str) -> None:
    client.request("DELETE", f"{PODS}/{name}", query={"gracePeriodSeconds": "0"})
    wait_for(f"pod {name} deleted", lambda: client.get(f"{PODS}/{name}").status == 404)


def running_on_new_node(client, name: str, pool) -> dict:
    """The node Karpenter launched for the pending pod `name`, once the scheduler placed the pod on it."""
    node_name = wait_for(f"pod {name} placed on a node of {pool.name}", lambda: node_of(client, name))
    node = client.get(f"/api/v1/nodes/{node_name}").body
    assert node["metadata"]["labels"].get(NODEPOOL_LABEL) == pool.name
    wait_for(f"node {node_name} Ready", lambda: ready(client.get(f"/api/v1/nodes/{node_name}").body))
    return node


@pytest.mark.parametrize("pool_name, capacity", [("train-l4", "on-demand"), ("spot-l4", "spot")])
def test_a_pending_gpu_pod_gets_a_node_of_its_pool(cluster, pools, pool_name, capacity):
    client, _ = cluster
    pool = pools[pool_name]
    name = f"first-{pool_name}"
    create(client, pod(name, pool))
    node = running_on_new_node(client, name, pool)
    labels = node["metadata"]["labels"]
    assert {k: labels.get(k) for k in pool.labels} == dict(pool.labels)
    assert labels[CAPACITY_TYPE_LABEL] == capacity
    assert labels[INSTANCE_TYPE_LABEL] in pool.instance_types
    taints = {(t["key"], t.get("value", ""), t["effect"]) for t in node["spec"].get("taints", [])}
    assert {(t.key, t.value, t.effect) for t in pool.taints} <= taints
    assert int(node["status"]["allocatable"][GPU_RESOURCE]) >= 1
    delete_pod(client, name)


def test_a_pool_at_its_limit_gets_no_more_nodes(cluster, pools):
    """train-l4 has maxSize 1: a second pod that fits no existing node stays pending, with no second node."""
    client, _ = cluster
    pool = pools["train-l4"]
    create(client, pod("limit-a", pool))
    running_on_new_node(client, "limit-a", pool)
    create(client, pod("limit-b", pool))
    time.sleep(20)  # Karpenter batches pending pods for up to 10 s (--batch-max-duration), then decides
    assert not node_of(client, "limit-b")
    assert len(claims(client, pool.name)) == 1
    delete_pod(client, "limit-b")
    delete_pod(client, "limit-a")


def test_training_keeps_a_busy_node_that_batch_consolidates(cluster, pools):
    """On each pool: a pod needing the larger type's CPUs gets a g6.2xlarge, a small pod joins it, the large one
    leaves. The node is busy but underutilized, and a g6.xlarge would hold the small pod for less."""
    client, _ = cluster
    first = {}
    for pool_name in ("train-l4", "batch-l4"):
        pool = pools[pool_name]
        create(client, pod(f"large-{pool_name}", pool, cpu="6"))
        node = running_on_new_node(client, f"large-{pool_name}", pool)
        assert node["metadata"]["labels"][INSTANCE_TYPE_LABEL] == LARGE
        create(client, pod(f"small-{pool_name}", pool, gpus=0))
        assert wait_for(f"small pod on {pool_name}", lambda n=pool_name: node_of(client, f"small-{n}")) == \
            node["metadata"]["name"]
        first[pool_name] = node["metadata"]["name"]
    for pool_name in first:
        delete_pod(client, f"large-{pool_name}")

    def replaced() -> bool:
        names = {n["metadata"]["name"]: n["metadata"]["labels"][INSTANCE_TYPE_LABEL]
                 for n in pool_nodes(client, "batch-l4")}
        return first["batch-l4"] not in names and SMALL in names.values()

    wait_for("batch-l4's underutilized g6.2xlarge replaced by a g6.xlarge", replaced, 180)
    # By now the training node has been as underutilized, for as long, as the batch node was.
    assert [n["metadata"]["name"] for n in pool_nodes(client, "train-l4")] == [first["train-l4"]]
    assert len(claims(client, "train-l4")) == 1
    delete_pod(client, "small-train-l4")
    client.request("DELETE", f"{PODS}/small-batch-l4", query={"gracePeriodSeconds": "0"})  # evicted by now, maybe


def test_an_empty_node_is_removed_after_consolidate_after(cluster, pools):
    client, _ = cluster
    pool = pools["train-l4"]
    wait_for("train-l4 without nodes (earlier tests' removed)", lambda: not claims(client, pool.name), 180)
    create(client, pod("empty-soon", pool))
    node = running_on_new_node(client, "empty-soon", pool)
    delete_pod(client, "empty-soon")
    emptied = time.monotonic()
    wait_for("the empty node removed", lambda: client.get(f"/api/v1/nodes/{node['metadata']['name']}").status == 404)
    assert time.monotonic() - emptied >= CONSOLIDATE_AFTER_S


def golden_objects(kind: str) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in sorted(GOLDEN.glob(f"*/kubernetes/{kind}._cluster.*.yaml"))]


@pytest.mark.parametrize("kind, path", [("EC2NodeClass", NODECLASSES), ("NodePool", NODEPOOLS)])
def test_every_rendered_karpenter_object_passes_the_api_servers_validation(cluster, kind, path):
    """A dry run (nothing is stored, Karpenter sees nothing): the server applies the CRD's schema and CEL rules."""
    client, _ = cluster
    objects = golden_objects(kind)
    assert len(objects) >= 5, [o["metadata"]["name"] for o in objects]  # dev 1, staging 2, prod 3
    for obj in objects:
        reply = client.post(path, obj, query={"dryRun": "All"})
        assert reply.ok, (obj["metadata"]["name"], reply.status, reply.message)


def test_a_node_class_that_breaks_a_cel_rule_is_refused(cluster):
    """ec2nodeclass.go: an id term excludes every other field of the term ('id' is mutually exclusive)."""
    client, _ = cluster
    obj = golden_objects("EC2NodeClass")[0]
    obj["spec"]["amiSelectorTerms"] = [{"id": "ami-0123456789abcdef0", "name": "also-a-name"}]
    reply = client.post(NODECLASSES, obj, query={"dryRun": "All"})
    assert reply.status == 422 and "mutually exclusive" in reply.message, (reply.status, reply.message)
