from policy_fixtures import UNKNOWN, edited, inventory, inventory_pool, messages, namespace, node_group, tenant_stack

POLICY = "driver-supports-gpu"


def test_compliant_pool_passes():
    assert messages(POLICY, *tenant_stack()) == []


def test_b200_below_its_floor_fails():
    found = messages(POLICY, node_group(pool="b200", instance_types=("p6-b200.48xlarge",), gpu="B200", driver="565.57.01"))
    assert len(found) == 1 and "570.133.20" in found[0] and "565.57.01" in found[0]


def test_b200_at_its_floor_passes():
    assert messages(POLICY, node_group(instance_types=("p6-b200.48xlarge",), gpu="B200", driver="570.133.20")) == []


def test_gpu_model_falls_back_to_the_instance_type():
    ng = edited(node_group(instance_types=("p6-b200.48xlarge",), driver="560.28.03"), ("labels", "gpufleet.io/gpu"), UNKNOWN)
    assert messages(POLICY, ng)


def test_cuda_13_tenant_on_v100_fails():
    resources = [node_group(pool="v100", instance_types=("p3.2xlarge",), gpu="V100", driver="580.65.06"),
                 namespace(pools=("v100",), cuda=("13.0",))]
    found = messages(POLICY, *resources)
    assert len(found) == 1 and "Volta" in found[0]


def test_cuda_12_tenant_on_v100_passes():
    resources = [node_group(pool="v100", instance_types=("p3.2xlarge",), gpu="V100", driver="580.65.06"),
                 namespace(pools=("v100",), cuda=("12.8",))]
    assert messages(POLICY, *resources) == []


def test_inventory_pool_below_floor_fails():
    pool = inventory_pool(instanceTypes=["p6-b200.48xlarge"], gpu="B200", driverVersion="560.28.03")
    assert messages(POLICY, inventory(pool))


def test_malformed_driver_label_is_reported():
    assert "not a driver version" in messages(POLICY, node_group(driver="latest"))[0]
