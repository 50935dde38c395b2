"""Rendered node user data: a MIME multipart nodeadm accepts, and the pool's Ansible vars."""

from __future__ import annotations

import email
import json

import yaml

from components.node_bootstrap import MIME_BOUNDARY, ansible_vars, render_user_data
from fleet_fixtures import spec_of, stack_config


def parts(text: str):
    message = email.message_from_string(text)
    assert message.is_multipart() and message.get_boundary() == MIME_BOUNDARY
    return {part.get_content_type(): part.get_payload() for part in message.get_payload()}


def test_user_data_has_a_node_config_and_a_bootstrap_script():
    spec = spec_of(stack_config("prod"))
    pool = spec.pool("training-h100")
    found = parts(render_user_data(spec, pool, "bucket-1", "playbooks/abc.zip"))
    assert set(found) == {"application/node.eks.aws", "text/x-shellscript"}
    node_config = yaml.safe_load(found["application/node.eks.aws"])
    assert node_config["kind"] == "NodeConfig" and node_config["apiVersion"] == "node.eks.aws/v1alpha1"
    flags = node_config["spec"]["kubelet"]["flags"]
    assert (
        "--register-with-taints=nvidia.com/gpu=true:NoSchedule,gpufleet.io/capacity=spot:NoSchedule,"
        "gpufleet.io/tenant=foundation-models:NoSchedule" in flags
    )
    script = found["text/x-shellscript"]
    assert script.startswith("#!/usr/bin/env bash")
    assert 's3://bucket-1/playbooks/abc.zip' in script
    assert '"p5.48xlarge": 8' in script


def test_script_carries_the_pool_vars_verbatim():
    spec = spec_of(stack_config("prod"))
    pool = spec.pool("training-a100")
    script = parts(render_user_data(spec, pool, "b", "k"))["text/x-shellscript"]
    embedded = script.split("<<'GPUFLEET_VARS'\n", 1)[1].split("\nGPUFLEET_VARS", 1)[0]
    assert json.loads(embedded) == ansible_vars(spec, pool)


def test_ansible_vars_follow_the_spec():
    spec = spec_of(stack_config("prod"))
    assert ansible_vars(spec, spec.pool("training-h100")) == {
        "gpufleet_install": True,
        "nvidia_driver_version": "570.133.20",
        "nvidia_driver_open_kernel_modules": True,
        "nvidia_driver_gpu_architecture": "Hopper",
        "nvidia_container_toolkit_version": "1.17.8",
        "nvidia_fabric_manager_enabled": True,
        "gpu_verify_expected_gpu_count": 8,
        "gpu_verify_expected_gpu_model": "H100",
    }
    config = stack_config("prod")
    config["drivers"]["install"] = "ami"
    spec = spec_of(config)
    vars_ = ansible_vars(spec, spec.pool("batch-a10g"))
    assert vars_["gpufleet_install"] is False and vars_["nvidia_fabric_manager_enabled"] is False
    assert vars_["gpu_verify_expected_gpu_count"] == 4
