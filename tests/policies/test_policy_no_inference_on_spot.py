from policy_fixtures import messages, namespace, node_group

POLICY = "no-inference-on-spot"


def test_on_demand_inference_and_critical_tenant_pass():
    assert messages(POLICY, node_group(workload="inference"), namespace(priority="critical")) == []


def test_inference_pool_on_spot_fails():
    assert "on-demand" in messages(POLICY, node_group(workload="inference", capacity="SPOT"))[0]


def test_training_on_spot_passes():
    assert messages(POLICY, node_group(capacity="SPOT"), namespace(priority="batch")) == []


def test_critical_tenant_on_spot_pool_fails():
    found = messages(POLICY, node_group(capacity="SPOT"), namespace(priority="critical"))
    assert len(found) == 1 and "critical tenant 'team-a'" in found[0]
