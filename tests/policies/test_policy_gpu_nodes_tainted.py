from policy_fixtures import DELETE, edited, inventory, inventory_pool, messages, node_group

POLICY = "gpu-nodes-tainted"


def test_tainted_gpu_pool_passes():
    assert messages(POLICY, node_group()) == []


def test_missing_gpu_taint_fails():
    ng = edited(node_group(), ("taints",), [])
    assert "nvidia.com/gpu" in messages(POLICY, ng)[0]


def test_wrong_effect_fails():
    ng = edited(node_group(), ("taints", 0, "effect"), "PREFER_NO_SCHEDULE")
    assert messages(POLICY, ng)


def test_cpu_node_group_is_not_judged():
    ng = edited(node_group(), ("instanceTypes",), ["m7i.large"])
    ng = edited(ng, ("labels",), {})
    ng = edited(ng, ("taints",), DELETE)
    assert messages(POLICY, ng) == []


def test_inventory_pool_without_taint_fails():
    assert messages(POLICY, inventory(inventory_pool(taints=[])))
