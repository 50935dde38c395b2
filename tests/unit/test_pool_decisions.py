"""The pure decisions about a node pool: taints, labels, AMI type, capacity, EFA, driver."""

from __future__ import annotations

from components import pool_decisions as decide
from components.facts import load_facts
from fleet_fixtures import spec_of, stack_config


def prod():
    return spec_of(stack_config("prod"))


def test_every_gpu_pool_has_the_gpu_taint_and_spot_pools_the_spot_taint():
    spec = prod()
    for pool in spec.node_pools:
        taints = {(t.key, t.value, t.effect) for t in decide.pool_taints(spec, pool)}
        assert ("nvidia.com/gpu", "true", "NoSchedule") in taints
        assert (("gpufleet.io/capacity", "spot", "NoSchedule") in taints) == (pool.capacity == "spot")


def test_dedicated_pool_is_tainted_and_labelled_for_its_tenant():
    spec = prod()
    pool = spec.pool("training-h100")
    assert decide.Taint("gpufleet.io/tenant", "foundation-models", "NoSchedule") in decide.pool_taints(spec, pool)
    assert decide.pool_labels(spec, pool)["gpufleet.io/tenant"] == "foundation-models"
    shared = spec.pool("batch-a10g")
    assert "gpufleet.io/tenant" not in decide.pool_labels(spec, shared)


def test_extra_taints_come_after_the_fleet_taints_in_both_spellings():
    config = stack_config("dev")
    config["nodePools"][0]["taints"] = [{"key": "example.com/team", "value": "a", "effect": "NoExecute"}]
    spec = spec_of(config)
    taints = decide.pool_taints(spec, spec.node_pools[0])
    assert [t.key for t in taints] == ["nvidia.com/gpu", "gpufleet.io/capacity", "example.com/team"]
    assert taints[-1].as_eks() == {"key": "example.com/team", "value": "a", "effect": "NO_EXECUTE"}
    assert decide.pool_tolerations(spec, spec.node_pools[0])[-1] == {
        "key": "example.com/team", "operator": "Equal", "value": "a", "effect": "NoExecute"
    }


def test_labels_describe_the_pool():
    spec = prod()
    labels = decide.pool_labels(spec, spec.pool("inference-h100"))
    assert labels["gpufleet.io/pool"] == "inference-h100"
    assert labels["gpufleet.io/workload"] == "inference"
    assert labels["gpufleet.io/capacity"] == "on-demand"
    assert labels["gpufleet.io/gpu"] == "H100"
    assert labels["gpufleet.io/driver-version"] == "570.133.20"
    assert labels["nvidia.com/gpu.present"] == "true"
    assert labels["nvidia.com/device-plugin.config"] == "inference-h100"
    assert labels["nvidia.com/mig.config"] == "all-3g.40gb"


def test_fleet_labels_win_over_user_labels():
    config = stack_config("dev")
    config["nodePools"][0]["labels"] = {"gpufleet.io/pool": "spoofed", "team": "ml"}
    spec = spec_of(config)
    labels = decide.pool_labels(spec, spec.node_pools[0])
    assert labels["gpufleet.io/pool"] == "dev-a10g" and labels["team"] == "ml"


def test_driver_override_per_pool():
    config = stack_config("prod")
    config["nodePools"][0]["driverVersion"] = "575.51.03"
    spec = spec_of(config)
    assert decide.pool_driver(spec, spec.node_pools[0]) == "575.51.03"
    assert decide.pool_labels(spec, spec.node_pools[0])["gpufleet.io/driver-version"] == "575.51.03"
    assert decide.pool_driver(spec, spec.node_pools[1]) == "570.133.20"


def test_ami_type_follows_driver_install_mode():
    config = stack_config("dev")
    spec = spec_of(config)
    assert decide.ami_type(spec, spec.node_pools[0]) == "AL2023_x86_64_STANDARD"
    assert decide.image_id(spec.node_pools[0]) is None
    config["drivers"]["install"] = "ami"
    spec = spec_of(config)
    assert decide.ami_type(spec, spec.node_pools[0]) == "AL2023_x86_64_NVIDIA"


def test_ubuntu_pools_boot_their_own_ami():
    spec = spec_of(stack_config("staging"))
    pool = spec.pool("inference-l4-ubuntu")
    assert decide.custom_ami(pool) and not decide.custom_ami(spec.pool("inference-l4"))
    assert decide.ami_type(spec, pool) == "CUSTOM"
    assert decide.image_id(pool) == "ami-0123456789abcdef0"


def test_capacity_type():
    spec = prod()
    assert decide.capacity_type(spec.pool("inference-l4")) == "ON_DEMAND"
    assert decide.capacity_type(spec.pool("training-h100")) == "SPOT"


def test_efa_interfaces_are_the_least_any_type_of_the_pool_has():
    spec = prod()
    facts = load_facts()
    assert decide.efa_interfaces(spec.pool("training-h100")) == facts.instance_type("p5.48xlarge").efa_interfaces == 32
    assert decide.efa_interfaces(spec.pool("training-a100")) == 4
    assert decide.efa_interfaces(spec.pool("inference-h100")) == 0  # efa not asked for


def test_gpus_per_node_is_the_smallest_type():
    config = stack_config("dev")
    config["nodePools"][0]["instanceTypes"] = ["g5.12xlarge", "g5.48xlarge"]
    spec = spec_of(config)
    assert decide.gpus_per_node(spec.node_pools[0]) == 4


def test_open_kernel_modules_only_where_the_architecture_supports_them():
    config = stack_config("dev")
    config["nodePools"][0]["instanceTypes"] = ["p3.2xlarge"]
    spec = spec_of(config)
    assert decide.open_kernel_modules(spec, spec.node_pools[0]) is False
    assert decide.open_kernel_modules(prod(), prod().node_pools[0]) is True


def test_fabric_manager_only_on_nvswitch_types():
    spec = prod()
    assert decide.needs_fabric_manager(spec.pool("training-h100")) is True
    assert decide.needs_fabric_manager(spec.pool("batch-a10g")) is False
