"""One test per class of config error: each names the config path and the bad value."""

from __future__ import annotations

import pytest
from fleet_fixtures import ROOT, STACKS, stack_config

from core.spec_loader import SpecError, load_stack_file, namespaced_config, parse_spec


def problems(config: dict) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(config)
    return [f"{path}: {message}" for path, message in caught.value.problems]


@pytest.mark.parametrize("stack", STACKS)
def test_example_stacks_are_valid(stack):
    spec = load_stack_file(ROOT / "stacks" / f"Pulumi.{stack}.yaml")
    assert spec.node_pools and spec.cluster.name


def test_defaults_are_filled():
    config = {"cluster": {"mode": "existing", "name": "c"}, "nodePools": [{"name": "p", "instanceTypes": ["g5.xlarge"]}]}
    spec = parse_spec(config)
    pool = spec.node_pools[0]
    assert (pool.capacity, pool.workload, pool.min_size, pool.desired, pool.max_size) == ("on-demand", "batch", 0, 0, 1)
    assert pool.sharing.mode == "exclusive" and pool.disk_gib == 200
    assert spec.drivers.install == "ansible" and spec.drivers.version == "570.133.20"
    assert spec.monitoring.alerts.gpu_temperature_celsius == 85


def test_zero_sizes_stay_zero():
    config = stack_config("prod")
    config["nodePools"][0].update(minSize=0, desiredSize=0, maxSize=1)
    assert parse_spec(config).node_pools[0].desired == 0


def test_unknown_instance_type_names_path_and_value():
    config = stack_config("prod")
    config["nodePools"][1]["instanceTypes"][0] = "p9.huge"
    assert problems(config) == ["nodePools[1].instanceTypes[0]: unknown GPU instance type 'p9.huge'"]


def test_unknown_keys_are_errors_at_every_level():
    config = stack_config("prod")
    config["nodePools"][0]["minsize"] = 1
    config["tenants"][2]["access"]["owners"] = []
    config["foo"] = 1
    assert sorted(problems(config)) == sorted(
        ["nodePools[0].minsize: unknown key", "tenants[2].access.owners: unknown key", "foo: unknown key"]
    )


def test_bad_enum_quotes_the_value():
    config = stack_config("dev")
    config["nodePools"][0]["capacity"] = "cheap"
    assert problems(config) == ["nodePools[0].capacity: input should be 'on-demand', 'spot' or 'reserved', got \"cheap\""]


@pytest.mark.parametrize("sizes", [(2, 1, 3), (0, 4, 3), (1, None, 0)])
def test_sizes_must_be_ordered(sizes):
    config = stack_config("dev")
    pool = config["nodePools"][0]
    pool.update(minSize=sizes[0], maxSize=sizes[2], provisioner="nodegroup")
    pool.pop("desiredSize", None)
    if sizes[1] is not None:
        pool["desiredSize"] = sizes[1]
    [message] = problems(config)
    assert message.startswith("nodePools[0]") and ("minSize <= desiredSize <= maxSize" in message or "maxSize" in message)


def test_duplicate_pool_and_tenant_names():
    config = stack_config("prod")
    config["nodePools"][2]["name"] = config["nodePools"][0]["name"]
    config["tenants"][3]["name"] = config["tenants"][1]["name"]
    found = problems(config)
    assert "nodePools[2].name: duplicate name 'inference-l4'" in found
    assert "tenants[3].name: duplicate name 'foundation-models'" in found


def test_names_must_be_dns_labels():
    config = stack_config("dev")
    config["nodePools"][0]["name"] = "Dev_Pool"
    [message] = problems(config)
    assert message.startswith("nodePools[0].name: 'Dev_Pool' is not a DNS label")


def test_tenant_pools_must_exist():
    config = stack_config("prod")
    config["tenants"][0]["pools"].append("nowhere")
    assert problems(config) == ["tenants[0].pools[2]: unknown node pool 'nowhere'"]


def test_dedicated_pool_is_not_shared():
    config = stack_config("prod")
    config["tenants"][3]["pools"].append("training-h100")
    assert problems(config) == ["tenants[3].pools[1]: pool 'training-h100' is dedicated to tenant 'foundation-models'"]


def test_pool_has_one_gpu_model():
    config = stack_config("dev")
    config["nodePools"][0]["instanceTypes"] = ["g5.xlarge", "g6.xlarge"]
    assert problems(config) == ["nodePools[0].instanceTypes: pool mixes GPU models A10G, L4; a pool has one GPU model"]


def test_efa_needs_efa_capable_types():
    config = stack_config("dev")
    config["nodePools"][0]["efa"] = True
    assert problems(config) == [
        "nodePools[0].instanceTypes[0]: 'g5.xlarge' does not support EFA (efa: true)",
        "nodePools[0].instanceTypes[1]: 'g5.2xlarge' does not support EFA (efa: true)",
    ]


@pytest.mark.parametrize(
    "sharing, expected",
    [
        ({"mode": "time-slicing"}, "time-slicing needs 'replicas'"),
        ({"mode": "exclusive", "replicas": 4}, "'replicas' is only valid when mode is time-slicing"),
        ({"mode": "mig"}, "mig needs one of 'migProfile' (e.g. 1g.10gb) or 'migProfiles'"),
        ({"mode": "mig", "migProfile": "1g.10gb", "migProfiles": ["1g.10gb"], "migStrategy": "mixed"}, "mig needs one of"),
        ({"mode": "mig", "migProfiles": ["1g.10gb", "3g.40gb"]}, "'migProfiles' needs migStrategy mixed"),
        ({"mode": "mig", "migStrategy": "mixed", "migProfiles": []}, "migProfiles: list should have at least 1 item"),
        ({"mode": "mig", "migProfile": "3g.40gb; reboot"}, "is not a MIG profile (<compute>g.<memory>gb"),
        ({"mode": "mig", "migStrategy": "mixed", "migProfiles": ["1g.10gb", "$(id)"]}, "is not a MIG profile"),
        ({"mode": "exclusive", "migProfile": "1g.10gb"}, "'migStrategy', 'migProfile' and 'migProfiles' are only valid when mode is mig"),
        ({"mode": "mps"}, "input should be 'exclusive', 'time-slicing' or 'mig', got \"mps\""),
    ],
)
def test_sharing_settings_match_their_mode(sharing, expected):
    config = stack_config("dev")
    config["nodePools"][0]["sharing"] = sharing
    [message] = problems(config)
    assert message.startswith("nodePools[0].sharing") and expected in message


@pytest.mark.parametrize(
    "where, value, expected",
    [
        (("drivers", "version"), "latest", "drivers.version: 'latest' is not a driver version"),
        (("tenants", 0, "cudaVersions", 0), "12.7", "tenants[0].cudaVersions[0]: unknown CUDA version '12.7'"),
        (("tenants", 0, "access", "admins", 0), "alice", "tenants[0].access.admins[0]: 'alice' is not a principal"),
        (("tenants", 0, "memoryQuota"), "lots", "tenants[0].memoryQuota: 'lots' is not a Kubernetes quantity"),
        (("cluster", "vpc", "cidr"), "10.0.0.0/8", "cluster.vpc.cidr: '10.0.0.0/8' must be a /16 to /24 block"),
    ],
)
def test_value_types_quote_the_bad_input(where, value, expected):
    config = stack_config("prod")
    target = config
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    [message] = problems(config)
    assert message.startswith(expected)


def test_cluster_mode_fields():
    config = stack_config("prod")
    config["cluster"]["kubeconfig"] = "~/.kube/config"
    assert problems(config) == ["cluster: 'kubeconfig', 'context' and 'networkPolicyEnforced' are only valid when mode is existing"]
    config = stack_config("local")
    config["cluster"]["vpc"] = {"cidr": "10.0.0.0/16", "availabilityZones": ["a", "b"]}
    assert problems(config) == ["cluster: 'vpc' is only valid when mode is eks"]


def test_existing_vpc_shape_errors_have_plain_paths():
    config = stack_config("prod")
    config["cluster"]["vpc"] = {"vpcId": "vpc-1", "subnetIds": ["subnet-1"]}
    [message] = problems(config)
    assert message.startswith("cluster.vpc.subnetIds: list should have at least 2 items")


def test_missing_required_fields():
    assert sorted(problems({"cluster": {"mode": "eks"}})) == ["cluster.name: required", "nodePools: required"]


def test_stack_file_errors(tmp_path):
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text("config: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_stack_file(broken)
    empty = tmp_path / "Pulumi.empty.yaml"
    empty.write_text("config:\n  aws:region: us-east-1\n")
    with pytest.raises(SpecError, match="no 'gpu-fleet:\\*' keys"):
        load_stack_file(empty)
    with pytest.raises(SpecError, match="cannot read stack config"):
        load_stack_file(tmp_path / "missing.yaml")


def test_other_namespaces_are_ignored():
    picked = namespaced_config({"aws:region": "us-east-1", "gpu-fleet:cluster": {"mode": "existing"}})
    assert picked == {"cluster": {"mode": "existing"}}


UBUNTU_POOL = {"name": "ubu", "instanceTypes": ["g6.2xlarge"], "os": "ubuntu-24.04", "amiId": "ami-0123456789abcdef0"}


def test_ubuntu_pool_with_its_ami_is_valid_and_al2023_is_the_default():
    config = stack_config("dev")
    config["nodePools"].append(dict(UBUNTU_POOL))
    spec = parse_spec(config)
    assert spec.node_pools[0].os == "al2023" and spec.node_pools[0].ami_id is None
    assert (spec.pool("ubu").os, spec.pool("ubu").ami_id) == ("ubuntu-24.04", "ami-0123456789abcdef0")


def test_ubuntu_pool_needs_an_ami_id_on_eks_only():
    config = stack_config("dev")
    config["nodePools"][0]["os"] = "ubuntu-22.04"
    [message] = problems(config)
    assert message.startswith("nodePools[0].amiId: required when os is 'ubuntu-22.04'")
    assert "Kubernetes 1.33" in message
    config = stack_config("local")
    config["nodePools"][0]["os"] = "ubuntu-22.04"
    # An existing cluster's nodes (local also has drivers.install ami): nothing is launched, no AMI is chosen.
    assert parse_spec(config).node_pools[0].ami_id is None


def test_ami_id_only_with_ubuntu():
    config = stack_config("dev")
    config["nodePools"][0]["amiId"] = "ami-0123456789abcdef0"
    assert problems(config) == ["nodePools[0].amiId: only valid when os is ubuntu-22.04 or ubuntu-24.04, got os 'al2023'"]


def test_ami_id_and_os_values_are_quoted():
    config = stack_config("dev")
    config["nodePools"].append({**UBUNTU_POOL, "amiId": "ami-XYZ"})
    config["nodePools"][0]["os"] = "ubuntu-20.04"
    assert sorted(problems(config)) == [
        "nodePools[0].os: input should be 'al2023', 'ubuntu-22.04' or 'ubuntu-24.04', got \"ubuntu-20.04\"",
        "nodePools[1].amiId: 'ami-XYZ' is not an AMI id (ami- and 8 or 17 hex digits)",
    ]


def test_nvidia_ami_install_is_al2023_only():
    config = stack_config("dev")
    config["drivers"]["install"] = "ami"
    config["nodePools"].append(dict(UBUNTU_POOL))
    [message] = problems(config)
    assert message.startswith("nodePools[1].os: 'ubuntu-24.04' needs drivers.install ansible")


def test_blackwell_pools_refuse_proprietary_kernel_modules():
    """Blackwell is supported only by NVIDIA's open kernel modules (NVIDIA driver installation guide, kernel
    modules; NVIDIA blog, 2024-07): the plan must not install the proprietary ones on a B200 pool."""
    config = stack_config("dev")
    config["drivers"]["openKernelModules"] = False
    config["nodePools"].append({"name": "b200", "instanceTypes": ["p6-b200.48xlarge"], "workload": "training",
                                "minSize": 0, "maxSize": 1})
    assert problems(config) == [
        "drivers.openKernelModules: false, but pool 'b200' has B200 GPUs (Blackwell), which only NVIDIA's open "
        "kernel modules support: set it to true"]
    config["nodePools"].pop()
    assert parse_spec(config).drivers.open_kernel_modules is False  # fine without Blackwell


@pytest.mark.parametrize("change, expected", [
    (lambda c: c.update(systemPool={"instanceTypes": ["p5.48xlarge"]}),
     "systemPool.instanceTypes[0]: 'p5.48xlarge' is a GPU instance type: the system pool runs cluster services, not GPU work"),
    (lambda c: c.update(systemPool={"instanceTypes": ["m6i.large\nx"]}),
     "systemPool.instanceTypes[0]: 'm6i.large\\nx' is not an EC2 instance type (e.g. m6i.large)"),
    (lambda c: c.update(systemPool={"instanceTypes": ["m7g.large"]}),
     "systemPool.instanceTypes[0]: 'm7g.large' is an Arm (Graviton) type: the system pool runs the x86_64 AL2023 AMI"),
    (lambda c: c.update(systemPool={"minSize": 3, "maxSize": 2}),
     "systemPool: sizes must satisfy 1 <= minSize <= desiredSize <= maxSize, got 3 <= 3 <= 2"),
    (lambda c: c["nodePools"][0].update(name="system"),
     "nodePools[0].name: 'system' is the system pool's name (systemPool)"),
])
def test_the_system_pool_is_validated(change, expected):
    config = stack_config("dev")
    change(config)
    assert problems(config) == [expected]


def test_an_existing_cluster_gets_no_system_pool():
    config = stack_config("local")
    assert parse_spec(config).system_pool_enabled is False
    config["systemPool"] = {"enabled": True}
    assert problems(config) == [
        "systemPool.enabled: an existing cluster brings its own nodes for cluster services: gpu-fleet creates no "
        "node group there (leave it unset or false)"]


def test_network_policy_enforcement_is_declared_only_for_existing_clusters():
    config = stack_config("dev")
    config["cluster"]["networkPolicyEnforced"] = True
    assert problems(config) == [
        "cluster: 'kubeconfig', 'context' and 'networkPolicyEnforced' are only valid when mode is existing"]
    local = stack_config("local")
    local["cluster"]["networkPolicyEnforced"] = True
    assert parse_spec(local).cluster.network_policy_enforced is True
