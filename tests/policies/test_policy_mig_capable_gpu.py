from policy_fixtures import UNKNOWN, edited, inventory, inventory_pool, messages, mig_node_group, node_group

POLICY = "mig-capable-gpu"


def test_valid_profile_on_h100_passes():
    assert messages(POLICY, mig_node_group("3g.40gb")) == []


def test_exclusive_pool_is_not_judged():
    assert messages(POLICY, node_group(instance_types=("g6.xlarge",), gpu="L4")) == []


def test_mig_on_non_mig_gpu_fails():
    found = messages(POLICY, mig_node_group("1g.10gb", instance_types=("g6.xlarge",), gpu="L4"))
    assert found and "does not support MIG" in found[0]


def test_profile_of_another_memory_size_fails():
    # 1g.5gb exists on the 40 GB A100 (p4d) only, not on the 80 GB p4de.
    assert messages(POLICY, mig_node_group("1g.5gb", instance_types=("p4d.24xlarge",), gpu="A100")) == []
    found = messages(POLICY, mig_node_group("1g.5gb", instance_types=("p4de.24xlarge",), gpu="A100"))
    assert found and "1g.5gb" in found[0]


def test_driver_below_mig_floor_fails():
    found = messages(POLICY, mig_node_group("1g.18gb", instance_types=("p5e.48xlarge",), gpu="H200", driver="550.54.14"))
    assert found and "550.90.07" in found[0]


def test_missing_profile_fails():
    ng = edited(mig_node_group(), ("labels", "nvidia.com/mig.config"), "all-disabled")
    assert messages(POLICY, ng)


def test_inventory_pool_of_existing_cluster_is_judged():
    pool = inventory_pool(instanceTypes=["g5.xlarge"], gpu="A10G", sharing={"mode": "mig", "migProfile": "1g.10gb"})
    assert messages(POLICY, inventory(pool))
    assert messages(POLICY, inventory({**pool, "managedBy": "gpu-fleet"})) == []


def test_unknown_instance_types_are_skipped():
    ng = edited(mig_node_group(), ("instanceTypes",), UNKNOWN)
    ng = edited(ng, ("labels", "gpufleet.io/gpu"), UNKNOWN)
    assert messages(POLICY, ng) == []


def mixed_node_group(geometry: str, instance_types=("p5.48xlarge",), gpu: str = "H100"):
    return edited(mig_node_group(instance_types=instance_types, gpu=gpu), ("labels", "nvidia.com/mig.config"), geometry)


def test_a_geometry_that_fits_passes():
    # NVIDIA's balanced H100 80GB geometry (NVIDIA/mig-parted pkg/mig/builder/balanced_test.go).
    assert messages(POLICY, mixed_node_group("custom-2x1g.10gb_1x2g.20gb_1x3g.40gb")) == []


def test_a_geometry_that_does_not_fit_fails():
    [found] = messages(POLICY, mixed_node_group("custom-1x1g.10gb_2x3g.40gb"))
    assert "1g.10gb, 3g.40gb, 3g.40gb do not fit on one GPU of p5.48xlarge" in found


def test_a_geometry_with_a_profile_of_another_part_fails():
    [found] = messages(POLICY, mixed_node_group("custom-2x1g.5gb_1x3g.40gb"))
    assert "MIG profile '1g.5gb' does not exist on p5.48xlarge" in found


def test_an_inventory_pool_with_a_list_is_judged():
    pool = inventory_pool(sharing={"mode": "mig", "migStrategy": "mixed", "migProfiles": ["3g.40gb"] * 3})
    [found] = messages(POLICY, inventory(pool))
    assert "do not fit" in found
    pool = inventory_pool(sharing={"mode": "mig", "migStrategy": "mixed", "migProfiles": ["3g.40gb", "4g.40gb"]})
    assert messages(POLICY, inventory(pool)) == []
