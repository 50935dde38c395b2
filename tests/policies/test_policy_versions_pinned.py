import base64
import json

from policy_fixtures import DELETE, daemon_set, edited, inventory, inventory_pool, launch_template, messages, node_group

POLICY = "versions-pinned"


def user_data(**ansible_vars):
    text = "MIME-Version: 1.0\n\n#!/bin/bash\ncat > vars.json <<'EOF'\n" + json.dumps(ansible_vars) + "\nEOF\n"
    return base64.b64encode(text.encode()).decode()


def test_pinned_everything_passes():
    lt = edited(launch_template(), ("userData",), user_data(nvidia_driver_version="570.133.20", nvidia_container_toolkit_version="1.17.8"))
    assert messages(POLICY, node_group(), daemon_set(), lt) == []


def test_latest_image_fails():
    assert "pin" in messages(POLICY, daemon_set(image="nvcr.io/nvidia/k8s-device-plugin:latest"))[0]


def test_untagged_image_fails():
    assert messages(POLICY, daemon_set(image="nvcr.io/nvidia/k8s/dcgm-exporter"))


def test_untagged_init_container_fails():
    assert messages(POLICY, daemon_set(init_image="registry.k8s.io/pause"))


def test_digest_pinned_image_passes():
    assert messages(POLICY, daemon_set(image="nvcr.io/nvidia/k8s-device-plugin@sha256:" + "a" * 64)) == []


def test_registry_port_is_not_a_tag():
    assert messages(POLICY, daemon_set(image="localhost:5000/plugin"))


def test_unpinned_toolkit_in_user_data_fails():
    lt = edited(launch_template(), ("userData",), user_data(nvidia_driver_version="570.133.20", nvidia_container_toolkit_version="latest"))
    assert "nvidia_container_toolkit_version" in messages(POLICY, lt)[0]


def test_node_group_without_driver_label_fails():
    assert messages(POLICY, edited(node_group(), ("labels", "gpufleet.io/driver-version"), DELETE))


def test_unpinned_driver_label_fails():
    assert messages(POLICY, node_group(driver="570"))


def test_inventory_pool_without_driver_fails():
    assert messages(POLICY, inventory(inventory_pool(driverVersion=None)))
