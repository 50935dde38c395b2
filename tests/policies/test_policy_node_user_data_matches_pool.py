"""node-user-data-matches-pool: starts from the user data the program really renders (the staging
stack has an AL2023 and an Ubuntu pool), changes one thing per case."""

from __future__ import annotations

import base64

import pytest
import yaml
from fleet_fixtures import stack_run
from policy_fixtures import UNKNOWN, edited, messages

from core.boot import MIME_BOUNDARY

POLICY = "node-user-data-matches-pool"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"


def pair(pool: str):
    """The pool as the program registers it: (node group, launch template), or for a Karpenter pool (staging's
    inference-l4-ubuntu and training-a100) (NodePool, EC2NodeClass)."""
    run = stack_run("staging")
    name = f"{run.plan.cluster.name}-{pool}"
    found = {r.type: r for r in run.custom_resources
             if (r.type in (NODE_GROUP, LAUNCH_TEMPLATE) and r.name == name)
             or (r.type in (NODE_POOL, NODE_CLASS) and r.inputs["metadata"]["name"] == pool)}
    if NODE_POOL in found:
        return found[NODE_POOL], found[NODE_CLASS]
    return found[NODE_GROUP], found[LAUNCH_TEMPLATE]


def user_data(template) -> str:
    """A launch template's user data is base64, a node class's plain text."""
    if template.type == NODE_CLASS:
        return template.inputs["spec"]["userData"]
    return base64.b64decode(template.inputs["userData"]).decode()


def with_user_data(template, text: str):
    if template.type == NODE_CLASS:
        return edited(template, ("spec", "userData"), text)
    return edited(template, ("userData",), base64.b64encode(text.encode()).decode())


@pytest.mark.parametrize("pool", ["inference-l4", "inference-l4-ubuntu", "training-a100"])
def test_what_the_program_renders_passes(pool):
    assert messages(POLICY, *pair(pool)) == []


def test_a_third_mime_part_fails():
    group, template = pair("inference-l4")
    closing = f"--{MIME_BOUNDARY}--"
    text = user_data(template).replace(
        closing, f"--{MIME_BOUNDARY}\nContent-Type: text/x-shellscript\n\n#!/bin/sh\nreboot\n\n{closing}"
    )
    found = messages(POLICY, group, with_user_data(template, text))
    assert any("parts" in m and "text/x-shellscript" in m for m in found), found


def test_a_kubelet_flag_smuggled_into_the_node_config_fails():
    group, template = pair("inference-l4")
    text = user_data(template).replace("    - --node-labels=", '    - --pod-max-pids=1\n    - --node-labels=')
    assert any("would register with" in m and "--pod-max-pids=1" in m for m in messages(POLICY, group, with_user_data(template, text)))


def test_a_label_the_node_group_does_not_carry_fails():
    group, template = pair("inference-l4")
    text = user_data(template).replace("--node-labels=", "--node-labels=acme.io/extra=1,")
    found = messages(POLICY, group, with_user_data(template, text))
    assert any("acme.io/extra=1" in m and "node group says" in m for m in found), found


def test_a_node_group_label_missing_from_the_user_data_fails():
    group, template = pair("inference-l4")
    labels = {**group.inputs["labels"], "acme.io/team": "ml"}
    assert messages(POLICY, edited(group, ("labels",), labels), template)


def test_a_taint_dropped_from_registration_fails():
    group, template = pair("inference-l4")
    text = user_data(template).replace("nvidia.com/gpu=true:NoSchedule", "")
    assert "nvidia.com/gpu=true:NoSchedule" in user_data(template)
    assert any("--register-with-taints" in m for m in messages(POLICY, group, with_user_data(template, text)))


def test_a_node_group_whose_node_config_sets_no_flags_fails():
    group, template = pair("inference-l4")
    text = user_data(template)
    start = text.index("  kubelet:\n")
    end = text.index("  containerd:\n")
    found = messages(POLICY, group, with_user_data(template, text[:start] + text[end:]))
    assert any("sets no kubelet flags" in m for m in found), found


def test_a_karpenter_pool_on_al2023_leaves_registration_to_karpenter():
    """Karpenter appends its own NodeConfig with the NodePool's taints, karpenter.sh/unregistered among them, as
    registerWithTaints (karpenter-provider-aws pkg/providers/amifamily/bootstrap/nodeadm.go,
    generateInlineKubeletConfiguration): a --register-with-taints flag in the pool's part would override it."""
    pool, node_class = pair("training-a100")
    text = user_data(node_class)
    assert "--register-with-taints" not in text and "kubelet:" not in text
    flagged = text.replace("spec:\n  containerd:", "spec:\n  kubelet:\n    flags:\n    - --register-with-taints=nvidia.com/gpu=true:NoSchedule\n  containerd:")
    assert flagged != text
    found = messages(POLICY, pool, with_user_data(node_class, flagged))
    assert any("override the taints Karpenter registers" in m for m in found), found


def test_a_karpenter_pool_on_a_custom_ami_registers_with_the_unregistered_taint():
    """Karpenter passes a Custom AMI family's user data through unchanged (bootstrap/custom.go): the join itself
    must add karpenter.sh/unregistered:NoExecute, which Karpenter removes once it has synced the node
    (sigs.k8s.io/karpenter pkg/controllers/nodeclaim/lifecycle/registration.go)."""
    pool, node_class = pair("inference-l4-ubuntu")
    text = user_data(node_class)
    assert ",karpenter.sh/unregistered:NoExecute" in text
    found = messages(POLICY, pool, with_user_data(node_class, text.replace(",karpenter.sh/unregistered:NoExecute", "")))
    assert any("would register with" in m for m in found), found


def test_a_node_config_that_sets_more_than_flags_and_runtime_fails():
    group, template = pair("inference-l4")
    text = user_data(template).replace("spec:\n  kubelet:", "spec:\n  cluster:\n    name: elsewhere\n  kubelet:")
    assert any("sets more than local storage, the kubelet's flags" in m
               for m in messages(POLICY, group, with_user_data(template, text)))


def test_a_local_storage_strategy_the_fleet_does_not_write_fails():
    """nodeadm's strategies are RAID0, RAID10 and Mount (awslabs/amazon-eks-ami nodeadm/api/v1alpha1/
    nodeconfig_types.go); gpu-fleet writes RAID0 only, for pools with instanceStore: raid0."""
    group, template = pair("inference-l4")
    text = user_data(template).replace("spec:\n  kubelet:", "spec:\n  instance:\n    localStorage: {strategy: Mount}\n  kubelet:")
    assert any("not a local storage strategy gpu-fleet writes" in m
               for m in messages(POLICY, group, with_user_data(template, text)))


@pytest.mark.parametrize("change", [
    lambda text: text.replace('default_runtime_name = \"nvidia\"', 'default_runtime_name = \"runc\"'),
    lambda text: text.replace("  containerd:\n", "  ignored:\n"),
], ids=["runc-default", "no-containerd-config"])
def test_a_node_config_without_the_nvidia_runtime_fails(change):
    """Without it containerd keeps runc on AL2023: nodeadm picks nvidia only when the runtime's binary
    exists at its config step, before cloud-init (awslabs/amazon-eks-ami
    nodeadm/internal/containerd/runtime_config_nvidia.go; templates/al2023/runtime/rootfs/etc/systemd/system/nodeadm-config.service)."""
    group, template = pair("inference-l4")
    text = change(user_data(template))
    assert text != user_data(template)
    assert any("NVIDIA runtime" in m for m in messages(POLICY, group, with_user_data(template, text)))


def with_cloud_config(template, change):
    """The template with its cloud-config changed by `change(document)` (the header comments kept)."""
    header, _, body = user_data(template).partition("package_update")
    document = yaml.safe_load("package_update" + body)
    change(document)
    return with_user_data(template, header + yaml.safe_dump(document, sort_keys=False))


def test_an_extra_cloud_config_command_fails():
    group, template = pair("inference-l4-ubuntu")
    changed = with_cloud_config(template, lambda document: document["runcmd"].append(["reboot"]))
    assert any("runcmd" in m for m in messages(POLICY, group, changed))


def test_a_command_after_the_join_fails():
    group, template = pair("inference-l4-ubuntu")
    changed = with_cloud_config(template, lambda document: document["write_files"][0].update(
        content=document["write_files"][0]["content"] + "reboot\n"))
    assert any("does not end with" in m for m in messages(POLICY, group, changed))


def test_garbage_fails_and_unknown_or_absent_is_skipped():
    group, template = pair("inference-l4")
    assert any("neither" in m for m in messages(POLICY, group, with_user_data(template, "#!/bin/sh\nreboot\n")))
    assert messages(POLICY, group, edited(template, ("userData",), UNKNOWN)) == []
    assert messages(POLICY, template) == []  # no pool of this stack to compare with
