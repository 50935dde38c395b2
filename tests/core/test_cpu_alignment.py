"""CPU and NUMA alignment (pool key cpuAlignment): what the kubelet of a pool's node ends up with.

Upstream behaviour encoded here:
- nodeadm (awslabs/amazon-eks-ami nodeadm/internal/kubelet/config.go, withDefaultReservedResources) writes
  kubeReserved cpu (computed from the vCPU count), systemReservedCgroup /system and kubeReservedCgroup
  /runtime into every AL2023 node's kubelet config, and merges NodeConfig spec.kubelet.config over it
  (nodeadm/api/v1alpha1/nodeconfig_types.go: "will be merged with the defaults");
- the kubelet refuses reservedSystemCPUs next to systemReservedCgroup or kubeReservedCgroup
  (k8s.io/kubernetes v1.36 pkg/kubelet/apis/config/validation/validation.go) and accepts only the topology
  manager policies none, best-effort, restricted, single-numa-node (same file);
- the static CPU manager will not start without a non-zero CPU reservation (pkg/kubelet/cm/cpumanager/
  cpu_manager.go: "the static policy requires systemreserved.cpu + kubereserved.cpu to be greater than zero").
"""

from __future__ import annotations

import email

import pytest
import yaml
from fleet_fixtures import plan_of, spec_of, stack_config

from components.kubernetes.tenant import placement
from core.boot import MIME_BOUNDARY, node_config, render_user_data
from core.kubelet import parse_cpuset
from core.spec_loader import SpecError

# What nodeadm writes before the NodeConfig's kubelet config is merged over it (kubeReserved cpu: its formula
# gives 70m-110m on the sizes of the facts; any non-zero value stands for it here).
NODEADM_DEFAULTS = {"systemReservedCgroup": "/system", "kubeReservedCgroup": "/runtime",
                    "kubeReserved": {"cpu": "90m", "ephemeral-storage": "1Gi", "memory": "893Mi"}}
KUBELET_TOPOLOGY_POLICIES = {"none", "best-effort", "restricted", "single-numa-node"}


def kubelet_refusals(config: dict) -> list[str]:
    """The kubelet's own rules on the merged config (the upstream sources above)."""
    problems = []
    reserved_set = config.get("reservedSystemCPUs", "")
    if reserved_set and (config.get("systemReservedCgroup") or config.get("kubeReservedCgroup")):
        problems.append("can't use reservedSystemCPUs with systemReservedCgroup or kubeReservedCgroup")
    if config.get("topologyManagerPolicy", "none") not in KUBELET_TOPOLOGY_POLICIES:
        problems.append("invalid topologyManagerPolicy")
    reserved_cpu = len(parse_cpuset(reserved_set)) if reserved_set else config.get("kubeReserved", {}).get("cpu", "0")
    if config.get("cpuManagerPolicy") == "static" and reserved_cpu in (0, "0", "0m"):
        problems.append("the static policy requires systemreserved.cpu + kubereserved.cpu to be greater than zero")
    return problems


def nodeadm_kubelet_config(pool) -> dict:
    """nodeadm's kubelet config of a node of the pool: its defaults with the NodeConfig's config merged over."""
    spec = yaml.safe_load(node_config(pool))["spec"]
    return {**NODEADM_DEFAULTS, **spec["kubelet"].get("config", {})}


def aligned(topology: str = "single-numa-node", reserved: str | None = None, os: str = "al2023"):
    config = stack_config("prod")
    pool = next(p for p in config["nodePools"] if p["name"] == "inference-l4")
    pool["cpuAlignment"] = {"topologyPolicy": topology, **({"reservedCpus": reserved} if reserved else {})}
    if os != "al2023":
        pool.update(os=os, amiId="ami-0123456789abcdef0")
    return config


def test_the_rules_catch_a_config_the_kubelet_refuses():
    assert kubelet_refusals({**NODEADM_DEFAULTS, "cpuManagerPolicy": "static", "reservedSystemCPUs": "0-1"})
    assert kubelet_refusals({"cpuManagerPolicy": "static", "kubeReserved": {"cpu": "0"}})
    assert kubelet_refusals({"topologyManagerPolicy": "numa-please"})


@pytest.mark.parametrize("reserved", [None, "0-3", "0,2"])
@pytest.mark.parametrize("topology", ["single-numa-node", "restricted"])
def test_an_al2023_node_gets_a_kubelet_config_the_kubelet_accepts(topology, reserved):
    pool = plan_of(aligned(topology, reserved)).pool("inference-l4")
    config = nodeadm_kubelet_config(pool)
    assert kubelet_refusals(config) == []
    assert config["cpuManagerPolicy"] == "static" and config["topologyManagerPolicy"] == topology
    assert config.get("reservedSystemCPUs") == reserved


def test_the_prod_serving_pool_is_aligned_in_its_user_data():
    pool = plan_of(stack_config("prod")).pool("inference-h100")
    message = email.message_from_string(render_user_data(pool, "bucket", "key.zip", None))
    assert message.get_boundary() == MIME_BOUNDARY
    [document] = [yaml.safe_load(p.get_payload()) for p in message.get_payload()
                  if p.get_content_type() == "application/node.eks.aws"]
    assert document["spec"]["kubelet"]["config"]["topologyManagerPolicy"] == "single-numa-node"
    assert kubelet_refusals({**NODEADM_DEFAULTS, **document["spec"]["kubelet"]["config"]}) == []


def test_pools_without_alignment_leave_the_kubelet_config_alone():
    for pool in plan_of(stack_config("prod")).pools:
        if pool.name != "inference-h100":
            assert "config" not in yaml.safe_load(node_config(pool))["spec"].get("kubelet", {}), pool.name


def test_an_ubuntu_node_gets_the_policies_as_bootstrap_flags():
    from core.boot import ClusterJoin

    pool = plan_of(aligned("restricted", os="ubuntu-24.04")).pool("inference-l4")
    text = render_user_data(pool, "bucket", "key.zip", ClusterJoin("c", "https://x.eks.amazonaws.com", "LS0t"))
    args = text.split("--kubelet-extra-args", 1)[1].split("\n", 1)[0]
    assert "--cpu-manager-policy=static" in args and "--topology-manager-policy=restricted" in args


@pytest.mark.parametrize("reserved, problem", [
    ("0-", "not a CPU list"), ("3-1", "runs backwards"), ("a", "not a CPU list"), ("", "not a CPU list"),
])
def test_a_malformed_cpu_list_names_the_field(reserved, problem):
    config = aligned()
    next(p for p in config["nodePools"] if p["name"] == "inference-l4")["cpuAlignment"]["reservedCpus"] = reserved
    with pytest.raises(SpecError) as error:
        spec_of(config)
    assert "nodePools[0].cpuAlignment.reservedCpus" in str(error.value) and problem in str(error.value)


def test_only_the_aligning_topology_policies_are_offered():
    with pytest.raises(SpecError, match=r"nodePools\[0\]\.cpuAlignment\.topologyPolicy"):
        spec_of(aligned("best-effort"))


def test_reserved_cpus_are_refused_on_ubuntu():
    with pytest.raises(SpecError, match=r"nodePools\[0\]\.cpuAlignment\.reservedCpus: AL2023 pools only"):
        spec_of(aligned(reserved="0-1", os="ubuntu-24.04"))


def test_the_placement_guide_asks_for_guaranteed_pods_on_aligned_pools_only():
    plan = plan_of(stack_config("prod"))
    for tenant in plan.tenants:
        for pool, entry in placement(tenant).items():
            if pool == "inference-h100":
                assert entry["cpuAlignment"]["topologyManagerPolicy"] == "single-numa-node"
                assert "requests equal its limits" in entry["cpuAlignment"]["pods"]
            else:
                assert "cpuAlignment" not in entry, (tenant.name, pool)


def test_the_policy_reader_gets_the_config_back_and_flags_what_the_kubelet_would_refuse():
    from core.boot_reader import read_user_data

    pool = plan_of(aligned("restricted", "0-1")).pool("inference-l4")
    text = render_user_data(pool, "bucket", "key.zip", None)
    boot = read_user_data(text)
    assert boot.problems == () and dict(boot.kubelet_config) == dict(pool.kubelet_config)
    # The same user data with nodeadm's reserved cgroups left in place: the kubelet would not start.
    broken = read_user_data(text.replace("systemReservedCgroup: ''", "systemReservedCgroup: /system"))
    assert any("kubelet refuses to start" in p for p in broken.problems), broken.problems


def test_the_policy_reader_splits_ubuntu_join_flags():
    from core.boot import ClusterJoin, kubelet_flags
    from core.boot_reader import read_user_data

    pool = plan_of(aligned("single-numa-node", os="ubuntu-24.04")).pool("inference-l4")
    boot = read_user_data(render_user_data(pool, "b", "k.zip", ClusterJoin("c", "https://x.eks.amazonaws.com", "LS0t")))
    assert boot.problems == ()
    assert boot.kubelet_flags == tuple(kubelet_flags(pool.taints, pool.labels))
    assert dict(boot.kubelet_config) == dict(pool.kubelet_config)
