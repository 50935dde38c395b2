from policy_fixtures import UNKNOWN, edited, inventory, inventory_pool, messages, namespace, node_group, tenant_stack

POLICY = "driver-supports-cuda"


def test_compliant_tenant_passes():
    assert messages(POLICY, *tenant_stack(cuda=("12.4", "12.8"))) == []


def test_cuda_newer_than_driver_fails_naming_tenant_pool_and_floor():
    found = messages(POLICY, *tenant_stack(cuda=("13.0",)))
    assert len(found) == 1
    assert "team-a" in found[0] and "train-h100" in found[0] and "580.65.06" in found[0]


def test_old_driver_fails_strict_and_passes_with_minor_version_compatibility():
    resources = [node_group(driver="550.54.14"), *tenant_stack(cuda=("12.8",))[1:]]
    assert len(messages(POLICY, *resources)) == 1
    config = {POLICY: {"allowMinorVersionCompatibility": True}}
    assert messages(POLICY, *resources, config=config) == []


def test_minor_version_compatibility_does_not_cross_majors():
    resources = [node_group(driver="570.133.20"), *tenant_stack(cuda=("13.0",))[1:]]
    assert messages(POLICY, *resources, config={POLICY: {"allowMinorVersionCompatibility": True}})


def test_pools_from_the_inventory_configmap_count_for_existing_clusters():
    pool = inventory_pool(driverVersion="535.54.03")
    resources = [inventory(pool), *tenant_stack(cuda=("12.4",))[1:]]
    assert messages(POLICY, *resources)


def test_node_group_wins_over_the_inventory_entry_of_the_same_pool():
    resources = [*tenant_stack(cuda=("12.4",)), inventory(inventory_pool(driverVersion="535.54.03", managedBy="gpu-fleet"))]
    assert messages(POLICY, *resources) == []


def test_unknown_cuda_version_is_reported():
    assert "unknown CUDA version" in messages(POLICY, *tenant_stack(cuda=("12.7",)))[0]


def test_unknown_driver_during_preview_is_skipped():
    ng = edited(node_group(), ("labels", "gpufleet.io/driver-version"), UNKNOWN)
    assert messages(POLICY, ng, namespace(cuda=("13.0",))) == []


def test_pool_the_stack_does_not_describe_is_skipped():
    assert messages(POLICY, node_group(), namespace(pools=("elsewhere",), cuda=("13.0",))) == []


def test_default_level_is_mandatory():
    found = __import__("policy_fixtures").violations(POLICY, *tenant_stack(cuda=("13.0",)))
    assert {v["level"] for v in found} == {"mandatory"}
