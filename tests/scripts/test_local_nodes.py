"""The simulated nodes carry what a real node of the pool registers (scripts/local_nodes.py).

The GPU units follow the NVIDIA device plugin's advertisement per sharing mode (k8s-device-plugin v0.20.0,
README "Shared Access to GPUs": time-slicing advertises replicas x GPUs of nvidia.com/gpu; docs/mig-strategies
"single": nvidia.com/gpu per MIG device, "mixed": nvidia.com/mig-<profile> per device): the plan's
gpu_resource and gpu_units_per_node, tested against those rules in tests/core/test_plan.py.
"""

from __future__ import annotations

from fleet_fixtures import plan_of, stack_config

from core.names import GPU_PRESENT_LABEL, POOL_LABEL, SYSTEM_POOL
from scripts.local_nodes import KWOK_ANNOTATION, KWOK_MANAGED, NODE_RESOURCES, SYSTEM_NODES, simulated_nodes


def by_pool(nodes: list[dict]) -> dict[str, list[dict]]:
    pools: dict[str, list[dict]] = {}
    for node in nodes:
        pools.setdefault(node["metadata"]["labels"][POOL_LABEL], []).append(node)
    return pools


def test_each_pool_has_its_desired_nodes_with_its_labels_taints_and_units():
    config = stack_config("local")
    config["nodePools"][0]["desiredSize"] = 2
    plan = plan_of(config)
    pools = by_pool(simulated_nodes(plan))
    for pool in plan.pools:
        nodes = pools[pool.name]
        assert len(nodes) == pool.desired_size
        for node in nodes:
            assert dict(pool.labels).items() <= node["metadata"]["labels"].items()
            assert node["spec"]["taints"] == [t.as_kubernetes() for t in pool.taints]
            assert node["status"]["allocatable"] == {**NODE_RESOURCES, **{r: str(n) for r, n in pool.gpu_resources.items()}}
            assert node["metadata"]["annotations"] == {KWOK_ANNOTATION: KWOK_MANAGED}


def test_time_slicing_and_mig_units_are_what_the_device_plugin_advertises():
    plan = plan_of(stack_config("local"))
    pools = by_pool(simulated_nodes(plan))
    l4 = pools["inference-l4"][0]["status"]["allocatable"]
    assert l4["nvidia.com/gpu"] == "4"  # 1 L4 x 4 time-slicing replicas
    a100 = pools["training-a100"][0]["status"]["allocatable"]
    # 8 A100 x (2 x 1g.5gb, 1 x 2g.10gb, 1 x 3g.20gb), mixed: one resource per profile
    assert {r: a100[r] for r in a100 if r.startswith("nvidia.com/")} == {
        "nvidia.com/mig-1g.5gb": "16", "nvidia.com/mig-2g.10gb": "8", "nvidia.com/mig-3g.20gb": "8"}


def test_system_nodes_are_untainted_and_have_no_gpus():
    system = by_pool(simulated_nodes(plan_of(stack_config("local"))))[SYSTEM_POOL]
    assert len(system) == SYSTEM_NODES
    for node in system:
        assert node["spec"]["taints"] == []
        assert GPU_PRESENT_LABEL not in node["metadata"]["labels"]
        assert node["status"]["capacity"] == NODE_RESOURCES
