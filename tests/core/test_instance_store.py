"""Instance-store NVMe as one RAID0 volume (pool key instanceStore): nodeadm's local storage on AL2023, the
instance_store role on Ubuntu (tests/playbooks/test_instance_store_role.py).

Upstream: NodeConfig spec.instance.localStorage.strategy is one of RAID0, RAID10, Mount (awslabs/amazon-eks-ami
nodeadm/api/v1alpha1/nodeconfig_types.go, LocalStorageStrategy); nodeadm runs setup-local-disks with it
(nodeadm/internal/system/local_disk.go), which builds the md array of the instance-store disks and bind-mounts
/var/lib/kubelet, /var/lib/containerd and /var/log/pods onto it (templates/al2023/runtime/bin/setup-local-disks).
"""

from __future__ import annotations

import pytest
import yaml
from fleet_fixtures import plan_of, spec_of, stack_config

from core.boot import node_config, render_user_data
from core.boot_reader import read_user_data
from core.spec_loader import SpecError

NODEADM_STRATEGIES = {"RAID0", "RAID10", "Mount"}


def with_store(pool_name: str, **extra) -> dict:
    config = stack_config("prod")
    pool = next(p for p in config["nodePools"] if p["name"] == pool_name)
    pool.update(instanceStore="raid0", **extra)
    return config


def test_the_prod_training_pool_builds_its_nvme_disks_into_raid0():
    pool = plan_of(stack_config("prod")).pool("training-h100")
    spec = yaml.safe_load(node_config(pool))["spec"]
    assert spec["instance"] == {"localStorage": {"strategy": "RAID0"}}
    assert spec["instance"]["localStorage"]["strategy"] in NODEADM_STRATEGIES
    boot = read_user_data(render_user_data(pool, "bucket", "key.zip", None))
    assert boot.problems == ()


def test_pools_without_it_leave_local_storage_to_nodeadm():
    for pool in plan_of(stack_config("prod")).pools:
        if pool.name != "training-h100":
            assert "instance" not in yaml.safe_load(node_config(pool))["spec"], pool.name


def test_a_type_without_instance_storage_is_refused_by_name():
    config = with_store("batch-a10g")
    next(p for p in config["nodePools"] if p["name"] == "batch-a10g")["instanceTypes"] = ["g5.12xlarge", "p3.8xlarge"]
    with pytest.raises(SpecError) as error:
        spec_of(config)
    assert "instanceTypes[1]: 'p3.8xlarge' has no NVMe instance storage" in str(error.value)


def test_ubuntu_pools_get_the_array_from_the_role_and_al2023_pools_from_nodeadm():
    """Canonical's EKS AMI has no nodeadm: the instance_store role builds the same layout there."""
    ubuntu = plan_of(with_store("batch-a10g", os="ubuntu-24.04", amiId="ami-0123456789abcdef0")).pool("batch-a10g")
    assert ubuntu.ansible_vars["instance_store_raid0"] is True
    al2023 = plan_of(stack_config("prod")).pool("training-h100")
    assert al2023.ansible_vars["instance_store_raid0"] is False  # nodeadm does it; twice would fight over the disks


def test_only_raid0_is_offered():
    config = with_store("batch-a10g")
    next(p for p in config["nodePools"] if p["name"] == "batch-a10g")["instanceStore"] = "mount"
    with pytest.raises(SpecError, match=r"instanceStore"):
        spec_of(config)
