"""The fleet plan: every pool's taints, labels, AMI type, capacity, EFA, driver; every tenant's quota and placement."""

from __future__ import annotations

import pytest
from fleet_fixtures import STACKS, plan_of, stack_config

from core.facts import load_facts
from core.plan import Taint


def prod():
    return plan_of(stack_config("prod"))


def test_every_gpu_pool_has_the_gpu_taint_and_spot_pools_the_spot_taint():
    for pool in prod().pools:
        taints = {(t.key, t.value, t.effect) for t in pool.taints}
        assert ("nvidia.com/gpu", "true", "NoSchedule") in taints
        assert (("gpufleet.io/capacity", "spot", "NoSchedule") in taints) == (pool.capacity == "spot")


def test_dedicated_pool_is_tainted_and_labelled_for_its_tenant():
    plan = prod()
    pool = plan.pool("training-h100")
    assert Taint("gpufleet.io/tenant", "foundation-models", "NoSchedule") in pool.taints
    assert pool.labels["gpufleet.io/tenant"] == "foundation-models"
    assert pool.dedicated_tenant == "foundation-models"
    assert "gpufleet.io/tenant" not in plan.pool("batch-a10g").labels
    assert plan.pool("batch-a10g").dedicated_tenant is None


def test_extra_taints_come_after_the_fleet_taints_in_both_spellings():
    config = stack_config("dev")
    config["nodePools"][0]["taints"] = [{"key": "example.com/team", "value": "a", "effect": "NoExecute"}]
    pool = plan_of(config).pools[0]
    taints = pool.taints
    assert [t.key for t in taints] == ["nvidia.com/gpu", "gpufleet.io/capacity", "example.com/team"]
    assert taints[-1].as_eks() == {"key": "example.com/team", "value": "a", "effect": "NO_EXECUTE"}
    assert Taint.of("example.com/team", "a", "NO_EXECUTE") == taints[-1] == Taint.of("example.com/team", "a", "NoExecute")
    assert pool.tolerations[-1] == {
        "key": "example.com/team", "operator": "Equal", "value": "a", "effect": "NoExecute"
    }


def test_labels_describe_the_pool():
    labels = prod().pool("inference-h100").labels
    assert labels["gpufleet.io/pool"] == "inference-h100"
    assert labels["gpufleet.io/workload"] == "inference"
    assert labels["gpufleet.io/capacity"] == "reserved"
    assert labels["gpufleet.io/gpu"] == "H100"
    assert labels["gpufleet.io/driver-version"] == "570.133.20"
    assert labels["nvidia.com/gpu.present"] == "true"
    assert labels["nvidia.com/device-plugin.config"] == "inference-h100"
    assert labels["nvidia.com/mig.config"] == "all-3g.40gb"


def test_user_labels_come_with_the_fleet_labels():
    config = stack_config("dev")
    config["nodePools"][0]["labels"] = {"team": "ml"}
    labels = plan_of(config).pools[0].labels
    assert labels["gpufleet.io/pool"] == "dev-a10g" and labels["team"] == "ml"


def test_driver_override_per_pool():
    config = stack_config("prod")
    config["nodePools"][0]["driverVersion"] = "575.51.03"
    plan = plan_of(config)
    assert plan.pools[0].driver_version == "575.51.03"
    assert plan.pools[0].labels["gpufleet.io/driver-version"] == "575.51.03"
    assert plan.pools[0].ansible_vars["nvidia_driver_version"] == "575.51.03"
    assert plan.pools[1].driver_version == "570.133.20"


def test_ami_type_follows_driver_install_mode():
    config = stack_config("dev")
    pool = plan_of(config).pools[0]
    assert pool.ami_type == "AL2023_x86_64_STANDARD" and pool.ansible_vars["gpufleet_install"] is True
    assert pool.image_id is None
    config["drivers"]["install"] = "ami"
    pool = plan_of(config).pools[0]
    assert pool.ami_type == "AL2023_x86_64_NVIDIA" and pool.ansible_vars["gpufleet_install"] is False


def test_ubuntu_pools_boot_their_own_ami():
    plan = plan_of(stack_config("staging"))
    pool = plan.pool("inference-l4-ubuntu")
    assert pool.custom_ami and not plan.pool("inference-l4").custom_ami
    assert pool.ami_type is None  # CreateNodegroup: no amiType with a custom AMI in the launch template
    assert pool.image_id == "ami-0123456789abcdef0"


def test_capacity_type():
    plan = prod()
    assert plan.pool("inference-l4").capacity_type == "ON_DEMAND"
    assert plan.pool("training-a100").capacity_type == "SPOT"
    # EKS CreateNodegroup: a Capacity Block's group is CAPACITY_BLOCK, an ODCR's stays ON_DEMAND (its launch
    # template targets the reservation; EKS user guide, capacity-blocks-mng and ml-node-groups).
    assert plan.pool("training-h100").capacity_type == "CAPACITY_BLOCK"
    assert plan.pool("inference-h100").capacity_type == "ON_DEMAND"


def test_efa_interfaces_are_the_least_any_type_of_the_pool_has():
    plan = prod()
    facts = load_facts()
    assert plan.pool("training-h100").efa_interfaces == facts.instance_type("p5.48xlarge").efa_interfaces == 32
    assert plan.pool("training-a100").efa_interfaces == 4
    assert plan.pool("inference-h100").efa_interfaces == 0  # efa not asked for


def test_gpus_per_node_is_the_smallest_type():
    config = stack_config("dev")
    config["nodePools"][0]["instanceTypes"] = ["g5.12xlarge", "g5.48xlarge"]
    pool = plan_of(config).pools[0]
    assert pool.gpus_per_node == 4 == pool.ansible_vars["gpu_verify_expected_gpu_count"]
    assert pool.gpus(3) == 12


def test_open_kernel_modules_only_where_the_architecture_supports_them():
    config = stack_config("dev")
    config["nodePools"][0]["instanceTypes"] = ["p3.2xlarge"]
    assert plan_of(config).pools[0].open_kernel_modules is False
    assert prod().pools[0].open_kernel_modules is True


def test_fabric_manager_only_on_nvswitch_types():
    plan = prod()
    assert plan.pool("training-h100").fabric_manager is True
    assert plan.pool("batch-a10g").fabric_manager is False


def test_units_a_node_advertises_follow_the_sharing_mode():
    plan = plan_of(stack_config("local"))
    l4 = plan.pool("inference-l4")  # time-slicing, 4 replicas per GPU
    assert dict(l4.gpu_resources) == {"nvidia.com/gpu": l4.gpus_per_node * 4}
    config = stack_config("local")
    config["nodePools"][1]["sharing"] = {"mode": "mig", "migStrategy": "mixed", "migProfile": "1g.5gb"}
    a100 = plan_of(config).pool("training-a100")  # MIG mixed: slices are advertised by profile name
    assert dict(a100.gpu_resources) == {"nvidia.com/mig-1g.5gb": 8 * 7} and a100.shared
    config["nodePools"][1]["sharing"] = {"mode": "mig", "migStrategy": "single", "migProfile": "1g.5gb"}
    single = plan_of(config).pool("training-a100")  # MIG single: slices are advertised as nvidia.com/gpu
    assert dict(single.gpu_resources) == {"nvidia.com/gpu": 8 * 7}


@pytest.mark.parametrize("stack", STACKS)
def test_inventory_is_the_serialized_pool_plans(stack):
    plan = plan_of(stack_config(stack))
    inventory = plan.pool_inventory()
    assert [entry["name"] for entry in inventory] == [p.name for p in plan.pools]
    for entry, pool in zip(inventory, plan.pools):
        assert entry["labels"] == dict(pool.labels)
        assert entry["taints"] == [t.as_kubernetes() for t in pool.taints]
        assert entry["managedBy"] == ("gpu-fleet" if plan.cluster.mode == "eks" else "existing")
        # What a node advertises (the local cluster's simulated nodes are given exactly this).
        assert entry["gpuResources"] == dict(pool.gpu_resources)
        # What the kubelet and the disks are set up for, where the pool asks (prod: both on its H100 pools).
        assert entry.get("kubeletConfig", {}) == dict(pool.kubelet_config)
        assert entry.get("instanceStore") == pool.instance_store


def test_prod_publishes_its_aligned_and_raid0_pools():
    inventory = {e["name"]: e for e in plan_of(stack_config("prod")).pool_inventory()}
    assert inventory["inference-h100"]["kubeletConfig"]["topologyManagerPolicy"] == "single-numa-node"
    assert inventory["training-h100"]["instanceStore"] == "raid0"


# --- tenants ----------------------------------------------------------------------------


def test_quota_values():
    plan = prod()
    assert dict(plan.tenant("search-serving").quota) == {
        "requests.cpu": "192",
        "requests.memory": "1536Gi",
        # queued (prod has queues on): nominal 24 + borrowing limit 8 per pool, at most each pool's units:
        # inference-l4 10 + inference-h100 min(14 + 8, 32)
        "requests.nvidia.com/gpu": "32",
    }
    # Its EFA pools: p5 (32 devices per 8 GPUs) and p4d (4 per 8): the larger share of 64 GPUs' worth.
    assert dict(plan.tenant("foundation-models").quota) == {"requests.nvidia.com/gpu": "64",
                                                             "requests.vpc.amazonaws.com/efa": "256"}
    assert not any(k.startswith("limits.") for t in plan.tenants for k in t.quota)


def test_quota_covers_mixed_mig_resources():
    config = stack_config("local")
    config["nodePools"][1]["sharing"] = {"mode": "mig", "migStrategy": "mixed", "migProfile": "1g.5gb"}
    research = plan_of(config).tenants[1]
    assert dict(research.quota) == {"requests.nvidia.com/gpu": "8", "requests.nvidia.com/mig-1g.5gb": "8"}
    assert research.placements[0].gpu_resources == ("nvidia.com/mig-1g.5gb",)
    assert dict(research.placements[0].mig_devices) == {"nvidia.com/mig-1g.5gb": "1g.5gb"}


def test_placements_carry_each_pool_tolerations_and_the_tenant_priority_class():
    plan = prod()
    tenant = plan.tenant("search-serving")
    assert [p.pool for p in tenant.placements] == list(tenant.pools)
    for placement in tenant.placements:
        assert list(placement.tolerations) == plan.pool(placement.pool).tolerations
        assert placement.node_selector == {"gpufleet.io/pool": placement.pool}
        assert placement.priority_class == tenant.priority_class == "gpufleet-critical"


def test_nvlink5_pools_run_nvlsm_with_the_fabric_manager():
    """NVIDIA Fabric Manager user guide: B200/B300/B100 (NVLink5) systems need the NVLink Subnet Manager."""
    config = stack_config("dev")
    config["nodePools"].append({"name": "b200", "instanceTypes": ["p6-b200.48xlarge"], "workload": "training",
                                "minSize": 0, "maxSize": 1})
    plan = plan_of(config)
    b200 = plan.pool("b200").ansible_vars
    assert b200["nvidia_fabric_manager_enabled"] is True and b200["nvidia_fabric_manager_nvlsm"] is True
    assert plan.pools[0].ansible_vars["nvidia_fabric_manager_nvlsm"] is False


@pytest.mark.parametrize("strategy, resource", [("single", "nvidia.com/gpu"), ("mixed", "nvidia.com/mig-3g.40gb")])
def test_mig_pools_plan_the_devices_the_device_plugin_advertises(strategy, resource):
    """NVIDIA/k8s-device-plugin v0.20.0 internal/rm/rm.go: under single every MIG device is an
    nvidia.com/gpu, under mixed an nvidia.com/mig-<profile>; one per GPU instance. An H100 80GB holds
    two 3g.40gb instances (NVIDIA MIG user guide, supported profiles)."""
    config = stack_config("dev")
    config["nodePools"].append({"name": "h100-mig", "instanceTypes": ["p5.48xlarge"], "workload": "inference",
                                "minSize": 0, "maxSize": 2, "driverVersion": "570.133.20",
                                "sharing": {"mode": "mig", "migStrategy": strategy, "migProfile": "3g.40gb"}})
    config["tenants"].append({"name": "slices", "gpuQuota": 32, "pools": ["h100-mig"]})
    plan = plan_of(config)
    pool = plan.pool("h100-mig")
    assert pool.mig_devices == ("3g.40gb", "3g.40gb")
    assert dict(pool.gpu_resources) == {resource: 16}
    assert pool.devices(pool.max_size) == 32 and pool.ansible_vars["nvidia_mig_devices"] == ["3g.40gb", "3g.40gb"]
    assert plan.tenant("slices").quota[f"requests.{resource}"] == "32"
    # 32 slices on two nodes of 8 GPUs x 2 instances: exactly the capacity, not oversubscribed 4x.
    from core.capacity import quota_capacity_groups

    [group] = [g for g in quota_capacity_groups(plan) if g.pools == ("h100-mig",)]
    assert group.gpus_at_max == 32 and group.ratio == 1.0 and not group.oversubscribed


def test_the_fabric_state_is_checked_only_where_nvml_reports_it():
    """NVML reports the NVLink fabric state for Hopper or newer (nvmlDeviceGetGpuFabricInfo); an A100
    NVSwitch node (p4d) says N/A, so checking it there would fail every such node."""
    config = stack_config("dev")
    config["nodePools"] += [
        {"name": "a100", "instanceTypes": ["p4d.24xlarge"], "minSize": 0, "maxSize": 1},
        {"name": "h100", "instanceTypes": ["p5.48xlarge"], "minSize": 0, "maxSize": 1},
    ]
    plan = plan_of(config)
    assert plan.pool("a100").fabric_manager and not plan.pool("a100").ansible_vars["gpu_verify_expect_fabric"]
    assert plan.pool("h100").ansible_vars["gpu_verify_expect_fabric"] is True
    assert plan.pools[0].ansible_vars["gpu_verify_expect_fabric"] is False


def test_ubuntu_pools_skip_the_loaded_runtime_check():
    """Their containerd config is written by /etc/eks/bootstrap.sh, which runs after the playbook."""
    plan = plan_of(stack_config("staging"))
    assert plan.pool("inference-l4-ubuntu").ansible_vars["gpu_verify_check_container_runtime"] is False
    assert plan.pool("inference-l4").ansible_vars["gpu_verify_check_container_runtime"] is True


def test_a_mixed_geometry_advertises_one_resource_per_profile():
    """NVIDIA/k8s-device-plugin (README, MIG strategies): under mixed each MIG device is advertised as
    nvidia.com/mig-<profile>, so a node of 8 H100 partitioned as NVIDIA's balanced geometry (2 x 1g.10gb,
    2g.20gb, 3g.40gb; NVIDIA/mig-parted pkg/mig/builder/balanced_test.go) advertises 16, 8 and 8."""
    config = stack_config("dev")
    balanced = ["3g.40gb", "1g.10gb", "2g.20gb", "1g.10gb"]
    config["nodePools"].append({"name": "h100-mixed", "instanceTypes": ["p5.48xlarge"], "workload": "inference",
                                "minSize": 0, "maxSize": 2, "driverVersion": "570.133.20",
                                "sharing": {"mode": "mig", "migStrategy": "mixed", "migProfiles": balanced}})
    config["tenants"].append({"name": "slices", "gpuQuota": 8, "pools": ["h100-mixed"]})
    plan = plan_of(config)
    pool = plan.pool("h100-mixed")
    assert pool.mig_devices == ("1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb")
    assert pool.ansible_vars["nvidia_mig_devices"] == list(pool.mig_devices)
    assert dict(pool.gpu_resources) == {"nvidia.com/mig-1g.10gb": 16, "nvidia.com/mig-2g.20gb": 8, "nvidia.com/mig-3g.40gb": 8}
    assert pool.labels["nvidia.com/mig.config"] == "custom-2x1g.10gb_1x2g.20gb_1x3g.40gb"
    assert pool.devices(pool.max_size) == 2 * 8 * 4
    tenant = plan.tenant("slices")
    assert {k: v for k, v in tenant.quota.items() if "mig-" in k} == {
        "requests.nvidia.com/mig-1g.10gb": "8", "requests.nvidia.com/mig-2g.20gb": "8", "requests.nvidia.com/mig-3g.40gb": "8"}
    [placement] = tenant.placements
    assert dict(placement.mig_devices) == {"nvidia.com/mig-1g.10gb": "1g.10gb", "nvidia.com/mig-2g.20gb": "2g.20gb",
                                           "nvidia.com/mig-3g.40gb": "3g.40gb"}
