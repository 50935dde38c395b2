import base64
import json

from policy_fixtures import (
    UNKNOWN,
    edited,
    inventory,
    inventory_pool,
    launch_template,
    messages,
    namespace,
    node_group,
    tenant_stack,
)

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


def test_v100_on_a_branch_after_r580_fails():
    """R580 is the last driver branch for Maxwell, Pascal and Volta (NVIDIA's Unix graphics deprecation schedule)."""
    found = messages(POLICY, node_group(pool="v100", instance_types=("p3.2xlarge",), gpu="V100", driver="590.44.01"))
    assert len(found) == 1 and "R580 is the last driver branch that supports Volta" in found[0]
    assert messages(POLICY, node_group(pool="v100", instance_types=("p3.2xlarge",), gpu="V100", driver="580.95.05")) == []


def _modules_template(gpu: str, open_modules: bool):
    text = "MIME-Version: 1.0\n\n#!/bin/bash\ncat > vars.json <<'EOF'\n" + json.dumps(
        {"gpufleet_install": True, "gpu_verify_expected_gpu_model": gpu, "nvidia_driver_open_kernel_modules": open_modules}
    ) + "\nEOF\n"
    return edited(launch_template(), ("userData",), base64.b64encode(text.encode()).decode())


def test_blackwell_user_data_with_proprietary_modules_fails():
    """Blackwell is supported only by NVIDIA's open kernel modules (NVIDIA driver installation guide, kernel modules)."""
    [message] = messages(POLICY, _modules_template("B200", False))
    assert "proprietary kernel modules do not support B200" in message
    assert messages(POLICY, _modules_template("B200", True)) == []
    assert messages(POLICY, _modules_template("V100", False)) == []
