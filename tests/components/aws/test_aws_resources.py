"""The AWS layer under Pulumi's mocks: what each stack registers, and how it is configured."""

from __future__ import annotations

import base64

import pytest
import yaml
from fleet_fixtures import node_group_config, spec_of, stack_config, stack_run

from core.names import SYSTEM_POOL
from core.spec_loader import SpecError
from gpufleet.offline import run_offline

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
PLACEMENT_GROUP = "aws:ec2/placementGroup:PlacementGroup"


def node_group_run(stack: str):
    return run_offline(spec_of(node_group_config(stack)), stack)


def of_type(run, type_):
    return [r for r in run.custom_resources if r.type == type_]


def by_pool(run, type_):
    """Resources of a type by pool name, the system pool's under SYSTEM_POOL."""
    return {r.name.removeprefix(f"{run.plan.cluster.name}-"): r for r in of_type(run, type_)}


def gpu_pool_templates(run):
    return [t for name, t in by_pool(run, LAUNCH_TEMPLATE).items() if name != SYSTEM_POOL]


def test_existing_cluster_creates_no_aws_resources():
    run = stack_run("local")
    assert [r for r in run.custom_resources if r.type.startswith("aws:")] == []
    [provider] = [r for r in run.custom_resources if r.type == "pulumi:providers:kubernetes"]
    assert provider.inputs["context"] == "gpufleet-local"


def test_eks_cluster_uses_api_auth_and_audit_logs():
    [cluster] = of_type(stack_run("prod"), "aws:eks/cluster:Cluster")
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    assert {"api", "audit", "authenticator"} <= set(cluster.inputs["enabledClusterLogTypes"])
    assert len(cluster.inputs["vpcConfig"]["subnetIds"]) == 3
    addons = {r.inputs["addonName"] for r in of_type(stack_run("prod"), "aws:eks/addon:Addon")}
    assert addons == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "eks-node-monitoring-agent"}
    assert len(of_type(stack_run("prod"), "aws:iam/openIdConnectProvider:OpenIdConnectProvider")) == 1


def test_vpc_has_private_and_public_subnets_with_load_balancer_tags():
    subnets = of_type(stack_run("staging"), "aws:ec2/subnet:Subnet")
    roles = sorted(next(k for k in s.inputs["tags"] if k.startswith("kubernetes.io/role/")) for s in subnets)
    assert roles == ["kubernetes.io/role/elb"] * 3 + ["kubernetes.io/role/internal-elb"] * 3
    assert len({s.inputs["cidrBlock"] for s in subnets}) == 6


def test_existing_vpc_is_used_as_given():
    config = stack_config("prod")
    config["cluster"]["vpc"] = {"vpcId": "vpc-123", "subnetIds": ["subnet-a", "subnet-b"]}
    for pool in config["nodePools"]:
        if "reservation" in pool:  # an existing VPC's subnets have no zone here: a reserved pool names its own
            del pool["reservation"]["availabilityZone"]
            pool["reservation"]["subnetIds"] = ["subnet-b"]
    run = run_offline(spec_of(config), "byo-vpc")
    assert of_type(run, "aws:ec2/vpc:Vpc") == []
    [cluster] = of_type(run, "aws:eks/cluster:Cluster")
    assert cluster.inputs["vpcConfig"]["subnetIds"] == ["subnet-a", "subnet-b"]
    groups = by_pool(run, NODE_GROUP)
    assert groups["inference-l4"].inputs["subnetIds"] == ["subnet-a", "subnet-b"]
    assert groups["inference-h100"].inputs["subnetIds"] == ["subnet-b"]


def test_one_node_group_per_pool_with_capacity_and_scaling():
    run = node_group_run("prod")
    groups = by_pool(run, NODE_GROUP)
    assert sorted(groups) == sorted([SYSTEM_POOL, *(p.name for p in run.plan.pools)])
    # EKS CreateNodegroup: an ODCR pool's group is ON_DEMAND, a Capacity Block's CAPACITY_BLOCK with its instance
    # type in the launch template only (EKS user guide, capacity-blocks-mng).
    assert {name: g.inputs["capacityType"] for name, g in groups.items()} == {
        SYSTEM_POOL: "ON_DEMAND", "inference-l4": "ON_DEMAND", "inference-h100": "ON_DEMAND",
        "training-h100": "CAPACITY_BLOCK", "training-a100": "SPOT", "batch-a10g": "SPOT"}
    assert "instanceTypes" not in groups["training-h100"].inputs
    for pool in run.plan.pools:
        inputs = groups[pool.name].inputs
        assert inputs.get("instanceTypes", list(pool.instance_types)) == list(pool.instance_types)
        assert inputs["scalingConfig"] == {"minSize": pool.min_size, "desiredSize": pool.desired_size, "maxSize": pool.max_size}
        assert inputs["amiType"] == "AL2023_x86_64_STANDARD"
        assert inputs["labels"]["gpufleet.io/pool"] == pool.name


def test_node_groups_are_tainted_in_the_eks_spelling():
    groups = by_pool(node_group_run("prod"), NODE_GROUP)
    assert groups["training-h100"].inputs["taints"] == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"},
        {"key": "gpufleet.io/tenant", "value": "foundation-models", "effect": "NO_SCHEDULE"},
    ]
    assert groups["training-a100"].inputs["taints"] == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"},
        {"key": "gpufleet.io/capacity", "value": "spot", "effect": "NO_SCHEDULE"},
    ]
    assert groups["inference-l4"].inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_launch_templates_require_imdsv2_and_encrypt_gp3_roots(stack):
    run = node_group_run(stack)
    templates = by_pool(run, LAUNCH_TEMPLATE)
    for pool in run.plan.pools:
        inputs = templates[pool.name].inputs
        assert inputs["metadataOptions"]["httpTokens"] == "required"
        assert inputs["metadataOptions"]["httpPutResponseHopLimit"] <= 2
        [root] = inputs["blockDeviceMappings"]
        assert root["ebs"] == {"volumeSize": pool.disk_gib, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}


def test_efa_pools_get_interfaces_a_placement_group_and_one_subnet():
    run = node_group_run("prod")
    templates, groups = by_pool(run, LAUNCH_TEMPLATE), by_pool(run, NODE_GROUP)
    # training-a100's; training-h100 is reserved, and a placement group its Capacity Block was not made in breaks
    # its launches (terraform-aws-modules/terraform-aws-eks PR 3730): its zone's subnet, no placement.
    [placement] = of_type(run, PLACEMENT_GROUP)
    assert placement.inputs["strategy"] == "cluster" and placement.name.endswith("training-a100-efa")
    assert templates["training-a100"].inputs["placement"]["groupName"]
    assert len(groups["training-a100"].inputs["subnetIds"]) == 1
    assert "placement" not in templates["training-h100"].inputs
    interfaces = templates["training-h100"].inputs["networkInterfaces"]
    assert len(interfaces) == 32 and {i["interfaceType"] for i in interfaces} == {"efa"}
    assert [i["deviceIndex"] for i in interfaces[:2]] == [0, 1]
    # Every interface carries the cluster security group (the offline EKS answer's clusterSecurityGroupId),
    # whose members exchange all traffic, as EFA requires.
    assert all(i["securityGroups"] == ["sg-0ff1ine0c1uster"] for i in interfaces)
    assert len(groups["training-h100"].inputs["subnetIds"]) == 1
    assert "networkInterfaces" not in templates["inference-l4"].inputs
    assert "placement" not in templates["inference-l4"].inputs
    assert len(groups["inference-l4"].inputs["subnetIds"]) == 3


def test_node_role_has_the_managed_policies_and_reads_only_the_bundle():
    run = node_group_run("dev")
    attached = {r.inputs["policyArn"].rsplit("/", 1)[1] for r in of_type(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment") if "-node" not in r.name and "dev-a10g" in r.name}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"}
    [policy] = of_type(run, "aws:iam/rolePolicy:RolePolicy")
    assert '"s3:GetObject"' in policy.inputs["policy"] and "/playbooks/*" in policy.inputs["policy"]


def test_playbook_bundle_bucket_is_private_encrypted_and_versioned():
    run = stack_run("dev")
    [block] = of_type(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    [versioning] = of_type(run, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    [sse] = of_type(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    [obj] = of_type(run, "aws:s3/bucketObjectv2:BucketObjectv2")
    assert obj.inputs["key"].startswith("playbooks/") and obj.inputs["key"].endswith(".zip")


def test_launch_template_user_data_is_the_rendered_bootstrap():
    run = node_group_run("dev")
    [template] = gpu_pool_templates(run)
    text = base64.b64decode(template.inputs["userData"]).decode()
    assert "--register-with-taints=nvidia.com/gpu=true:NoSchedule,gpufleet.io/capacity=spot:NoSchedule" in text
    assert "ansible-playbook" in text


def test_ubuntu_pool_boots_its_ami_with_a_cloud_config_that_joins_the_cluster():
    run = node_group_run("staging")
    groups, templates = by_pool(run, NODE_GROUP), by_pool(run, LAUNCH_TEMPLATE)
    # EKS API reference, CreateNodegroup amiType: not specified when the launch template names a custom AMI.
    assert "amiType" not in groups["inference-l4-ubuntu"].inputs
    assert templates["inference-l4-ubuntu"].inputs["imageId"] == "ami-0123456789abcdef0"
    assert groups["inference-l4"].inputs["amiType"] == "AL2023_x86_64_STANDARD"
    # The root volume is mapped at the image's own root device (the offline getAmi answer: Canonical's
    # /dev/sda1); the AL2023 AMI EKS picks has /dev/xvda.
    [ubuntu_root] = templates["inference-l4-ubuntu"].inputs["blockDeviceMappings"]
    assert ubuntu_root["deviceName"] == "/dev/sda1" and ubuntu_root["ebs"]["encrypted"] == "true"
    assert templates["inference-l4"].inputs["blockDeviceMappings"][0]["deviceName"] == "/dev/xvda"
    assert "imageId" not in templates["inference-l4"].inputs
    text = base64.b64decode(templates["inference-l4-ubuntu"].inputs["userData"]).decode()
    assert text.startswith("#cloud-config\n")
    [script] = [f["content"] for f in yaml.safe_load(text)["write_files"]]
    # The mocked Cluster outputs (endpoint, certificateAuthority.data) reach the bootstrap command.
    assert (
        "/etc/eks/bootstrap.sh gpufleet-staging \\\n"
        "  --apiserver-endpoint https://mock.eks.local \\\n"
        "  --b64-cluster-ca bW9jaw== \\\n"
        "  --kubelet-extra-args '--register-with-taints=nvidia.com/gpu=true:NoSchedule "
        "--node-labels=gpufleet.io/capacity=on-demand,"
    ) in script
    assert "gpufleet.io/pool=inference-l4-ubuntu," in script
    assert script.index("ansible-playbook") < script.index("/etc/eks/bootstrap.sh gpufleet-staging")


def test_changing_the_driver_changes_the_launch_template():
    config = node_group_config("dev")
    before = gpu_pool_templates(run_offline(spec_of(config), "a"))[0].inputs["userData"]
    config["drivers"]["version"] = "575.51.03"
    after = gpu_pool_templates(run_offline(spec_of(config), "b"))[0].inputs["userData"]
    assert before != after


def test_every_resource_descends_from_the_platform():
    run = stack_run("prod")
    by_urn = {r.urn: r for r in run.resources}
    for resource in run.resources:
        chain = [resource]
        while chain[-1].parent in by_urn:
            chain.append(by_urn[chain[-1].parent])
        assert chain[-1].type == "gpufleet:platform:GpuPlatform", resource.urn
        if resource.custom:
            assert len(chain) >= 3, f"{resource.urn} sits directly under the platform, not in its component"


def test_availability_zones_as_a_count_take_the_regions_first_zones():
    """Like awsx's numberOfAvailabilityZones: the program asks AWS (getAvailabilityZones, state available)
    at deploy time; offline the mocks answer with placeholder zone names."""
    config = stack_config("staging")
    config["cluster"]["vpc"]["availabilityZones"] = 3
    run = run_offline(spec_of(config), "zones")
    subnets = [r for r in run.custom_resources if r.type == "aws:ec2/subnet:Subnet"]
    assert sorted(s.inputs["availabilityZone"] for s in subnets) == sorted(["offline-az-1", "offline-az-2", "offline-az-3"] * 2)
    cidrs = {s.inputs["cidrBlock"] for s in subnets}
    assert len(cidrs) == 6


@pytest.mark.parametrize("zones, problem", [(1, "greater than or equal to 2"), (7, "less than or equal to 6"), (True, "valid list")])
def test_availability_zone_counts_out_of_range_are_refused(zones, problem):
    config = stack_config("staging")
    config["cluster"]["vpc"]["availabilityZones"] = zones
    with pytest.raises(SpecError, match=problem) as error:
        spec_of(config)
    assert "cluster.vpc.availabilityZones:" in error.value.render()


def test_a_custom_amis_root_device_is_read_from_the_image(monkeypatch):
    """Whatever the image says (ec2:DescribeImages RootDeviceName), not a name assumed per OS."""
    from gpufleet import offline

    monkeypatch.setitem(offline._INVOKES, "aws:ec2/getAmi:getAmi", {"rootDeviceName": "/dev/nvme0n1"})
    run = run_offline(spec_of(node_group_config("staging")), "staging")
    templates = by_pool(run, LAUNCH_TEMPLATE)
    assert templates["inference-l4-ubuntu"].inputs["blockDeviceMappings"][0]["deviceName"] == "/dev/nvme0n1"
    assert templates["inference-l4"].inputs["blockDeviceMappings"][0]["deviceName"] == "/dev/xvda"


def test_the_system_pool_runs_cluster_services_and_the_add_ons_come_after_it():
    """CoreDNS tolerates no GPU taint: with only GPU nodes the coredns add-on never schedules and its
    creation times out (pulumi/pulumi-eks#1819, terraform-aws-modules/terraform-aws-eks#3001)."""
    run = stack_run("prod")
    group = by_pool(run, NODE_GROUP)[SYSTEM_POOL]
    assert "taints" not in group.inputs or group.inputs["taints"] == []
    assert group.inputs["capacityType"] == "ON_DEMAND" and group.inputs["instanceTypes"] == ["m6i.large"]
    assert group.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert group.inputs["labels"] == {"gpufleet.io/pool": SYSTEM_POOL}
    assert group.inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 2, "maxSize": 3}
    template = by_pool(run, LAUNCH_TEMPLATE)[SYSTEM_POOL]
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert template.inputs["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    assert "userData" not in template.inputs
    addons = of_type(run, "aws:eks/addon:Addon")
    assert {a.inputs["addonName"] for a in addons} >= {"coredns", "vpc-cni"}
    assert all(group.urn in a.dependencies for a in addons), [a.dependencies for a in addons]


def test_no_system_pool_where_disabled_or_on_an_existing_cluster():
    config = node_group_config("dev")
    config["systemPool"] = {"enabled": False}
    run = run_offline(spec_of(config), "dev")
    assert SYSTEM_POOL not in by_pool(run, NODE_GROUP)
    assert run.plan.system_pool is None and stack_run("local").plan.system_pool is None


def test_the_vpc_cni_enforces_network_policies():
    """EKS user guide, network policies: the VPC CNI add-on enforces NetworkPolicies only with
    `enableNetworkPolicy: "true"` in its configuration values."""
    import json

    addons = {a.inputs["addonName"]: a for a in of_type(stack_run("prod"), "aws:eks/addon:Addon")}
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert "configurationValues" not in addons["coredns"].inputs


def test_gpu_nodes_with_hardware_faults_are_repaired():
    """EKS node health: the node monitoring agent add-on sets AcceleratedHardwareReady from NVIDIA XID and
    DCGM findings, and node auto repair replaces such nodes; the agent's DCGM DaemonSet tolerates nothing
    by default (aws/eks-node-monitoring-agent chart values, dcgmAgent.tolerations: [])."""
    import json

    run = node_group_run("prod")
    addons = {a.inputs["addonName"]: a for a in of_type(run, "aws:eks/addon:Addon")}
    config = json.loads(addons["eks-node-monitoring-agent"].inputs["configurationValues"])
    assert config["dcgmAgent"]["tolerations"] == list(run.plan.gpu_tolerations)
    groups = by_pool(run, NODE_GROUP)
    for pool in run.plan.pools:
        assert groups[pool.name].inputs["nodeRepairConfig"] == {"enabled": True, "maxParallelNodesRepairedCount": 1}
    assert "nodeRepairConfig" not in groups[SYSTEM_POOL].inputs
