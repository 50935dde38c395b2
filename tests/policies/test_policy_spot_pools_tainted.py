from policy_fixtures import edited, inventory, inventory_pool, messages, node_group

POLICY = "spot-pools-tainted"


def test_tainted_spot_pool_passes():
    assert messages(POLICY, node_group(capacity="SPOT")) == []


def test_on_demand_pool_needs_no_spot_taint():
    assert messages(POLICY, node_group(capacity="ON_DEMAND")) == []


def test_spot_pool_without_spot_taint_fails():
    ng = edited(node_group(capacity="SPOT"), ("taints",), [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}])
    assert "spot" in messages(POLICY, ng)[0]


def test_other_spot_taint_spellings_count():
    ng = edited(node_group(capacity="SPOT"), ("taints", 1), {"key": "node.kubernetes.io/spot", "value": "true", "effect": "NO_EXECUTE"})
    assert messages(POLICY, ng) == []


def test_inventory_spot_pool_without_taint_fails():
    assert messages(POLICY, inventory(inventory_pool(capacity="spot", capacityType="SPOT")))
