from policy_fixtures import device_plugin_config, device_plugin_configmap, edited, inventory, inventory_pool, messages, node_group

POLICY = "no-mps-sharing"


def test_time_slicing_config_passes():
    sharing = {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}
    assert messages(POLICY, device_plugin_configmap({"p": device_plugin_config(sharing=sharing)})) == []


def test_mps_config_fails():
    sharing = {"mps": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}}
    found = messages(POLICY, device_plugin_configmap({"p": device_plugin_config(sharing=sharing)}))
    assert len(found) == 1 and "MPS" in found[0]


def test_mps_pool_label_fails():
    assert messages(POLICY, edited(node_group(), ("labels", "gpufleet.io/sharing"), "mps"))


def test_mps_inventory_pool_fails():
    assert messages(POLICY, inventory(inventory_pool(sharing={"mode": "mps"})))


def test_exclusive_pool_passes():
    assert messages(POLICY, node_group()) == []
