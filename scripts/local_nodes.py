"""The simulated nodes of the local cluster (scripts/local-cluster runs this with the project's virtualenv).

One Node per desired node of every pool of a stack, carrying what the real node registers: the pool's
labels and taints and, in its capacity, the GPU units the device plugin advertises under the pool's sharing
mode (GPUs; GPUs x replicas when time-sliced; MIG instances, named by profile under `mixed`). Beside them
SYSTEM_NODES untainted non-GPU nodes labelled as the fleet's system pool, where cluster services (CoreDNS)
run. Every node carries kwok's annotation: kwok makes it Ready, renews its lease and plays the lifecycle of
the pods bound to it. Nothing here is a kubelet: no container runs.

    local_nodes.py (--stack NAME | --config FILE) --kubeconfig FILE [--context NAME]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.names import GPU_PRESENT_LABEL, POOL_LABEL, SYSTEM_POOL  # noqa: E402
from core.plan import FleetPlan, PoolPlan, plan_fleet  # noqa: E402
from core.spec_loader import load_stack_file  # noqa: E402
from gpufleet.kube import KubeClient  # noqa: E402

# kwok (scripts/local-cluster: --manage-nodes-with-annotation-selector) manages the nodes that carry it.
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_MANAGED = "fake"
SYSTEM_NODES = 2
SYSTEM_INSTANCE_TYPE = "m6i.large"
# What every simulated node offers besides its GPUs (the facts carry no vCPU or memory sizes).
NODE_RESOURCES = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}


def node(name: str, instance_type: str, labels: dict, taints: list[dict], resources: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                **labels,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": instance_type,
            },
            "annotations": {KWOK_ANNOTATION: KWOK_MANAGED},
        },
        "spec": {"taints": taints},
        # kwok's node-initialize stage keeps a node's capacity and allocatable and adds the conditions.
        "status": {"capacity": resources, "allocatable": resources},
    }


def pool_nodes(pool: PoolPlan) -> list[dict]:
    resources = {**NODE_RESOURCES, **{r: str(units) for r, units in pool.gpu_resources.items()}}
    taints = [t.as_kubernetes() for t in pool.taints]
    return [
        node(f"{pool.name}-{i}", pool.instance_types[0], dict(pool.labels), taints, resources)
        for i in range(max(1, pool.desired_size))
    ]


def system_nodes() -> list[dict]:
    return [
        node(f"{SYSTEM_POOL}-{i}", SYSTEM_INSTANCE_TYPE, {POOL_LABEL: SYSTEM_POOL}, [], dict(NODE_RESOURCES))
        for i in range(SYSTEM_NODES)
    ]


def simulated_nodes(plan: FleetPlan) -> list[dict]:
    """Every node of the simulated cluster: the system nodes, then each pool's."""
    return system_nodes() + [n for pool in plan.pools for n in pool_nodes(pool)]


def apply(client: KubeClient, nodes: list[dict]) -> None:
    for obj in nodes:
        name = obj["metadata"]["name"]
        created = client.post("/api/v1/nodes", obj)
        if created.status == 409:  # from an earlier start: make it what the plan says now
            meta = {k: obj["metadata"][k] for k in ("labels", "annotations")}
            patched = client.merge_patch(f"/api/v1/nodes/{name}", {"metadata": meta, "spec": obj["spec"]})
            if patched.ok:
                patched = client.merge_patch(f"/api/v1/nodes/{name}/status", {"status": obj["status"]})
            created = patched
        if not created.ok:
            sys.exit(f"node {name}: {created.status} {created.message}")
        gpus = {k: v for k, v in obj["status"]["capacity"].items() if k not in NODE_RESOURCES}
        kind = "gpu" if obj["metadata"]["labels"].get(GPU_PRESENT_LABEL) else "system"
        print(f"node {name} ({kind}): {gpus or 'no GPUs'}, {len(obj['spec']['taints'])} taints", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="a stack of this project (stacks/Pulumi.<NAME>.yaml)")
    target.add_argument("--config", help="a stack config file")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--context")
    args = parser.parse_args(argv)
    path = args.config or Path(__file__).resolve().parent.parent / "stacks" / f"Pulumi.{args.stack}.yaml"
    plan = plan_fleet(load_stack_file(path))
    apply(KubeClient.from_kubeconfig(args.kubeconfig, args.context), simulated_nodes(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
