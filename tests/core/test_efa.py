"""EFA devices in tenants' quotas and placement guides, and the facts of the EFA software.

Upstream: the EFA device plugin advertises each EFA device as one unit of vpc.amazonaws.com/efa, and each
device is allocated to one pod (EKS user guide, "Use EFA with EKS"); a ResourceQuota limits an extended
resource only through requests.<name> (Kubernetes docs, "Resource Quotas": extended resources). AWS publishes the
SHA256 of each EFA installer release (EC2 user guide, "Verify the EFA installer using a checksum").
"""

from __future__ import annotations

import re

import yaml
from fleet_fixtures import ROOT, plan_of, stack_config

from components.kubernetes.tenant import placement
from core.facts import load_facts
from core.plan import efa_quota


def test_a_tenant_on_efa_pools_gets_efa_devices_in_proportion_to_its_gpus():
    plan = plan_of(stack_config("prod"))
    h100, a100 = plan.pool("training-h100"), plan.pool("training-a100")
    assert (h100.efa_interfaces, a100.efa_interfaces) == (32, 4)  # p5.48xlarge, p4d.24xlarge
    assert efa_quota(8, h100) == 32 and efa_quota(8, a100) == 4  # one whole node: all its devices
    assert efa_quota(1, a100) == 1  # rounded up: a one-GPU job may still use a device
    tenant = plan.tenant("foundation-models")
    assert tenant.quota["requests.vpc.amazonaws.com/efa"] == str(efa_quota(tenant.gpu_quota, h100))


def test_tenants_without_efa_pools_get_no_efa_line():
    plan = plan_of(stack_config("prod"))
    for tenant in plan.tenants:
        on_efa = any(plan.pool(name).efa for name in tenant.pools)
        assert ("requests.vpc.amazonaws.com/efa" in tenant.quota) is on_efa, tenant.name


def test_the_placement_guide_names_the_efa_resource_on_efa_pools_only():
    plan = plan_of(stack_config("prod"))
    guide = placement(plan.tenant("foundation-models"))
    for name, entry in guide.items():
        if plan.pool(name).efa:
            assert entry["efa"] == {"resource": "vpc.amazonaws.com/efa", "devicesPerNode": plan.pool(name).efa_interfaces}
        else:
            assert "efa" not in entry


def test_the_installer_is_pinned_with_a_sha256_and_fetched_from_aws():
    efa = load_facts().efa
    assert re.fullmatch(r"\d+\.\d+\.\d+", efa.installer_version)
    assert re.fullmatch(r"[0-9a-f]{64}", efa.installer_sha256)
    defaults = yaml.safe_load((ROOT / "playbooks/roles/aws_efa/defaults/main.yml").read_text())
    url = defaults["aws_efa_installer_url"].replace("{{ aws_efa_installer_version }}", efa.installer_version)
    assert url == f"https://efa-installer.amazonaws.com/aws-efa-installer-{efa.installer_version}.tar.gz"
