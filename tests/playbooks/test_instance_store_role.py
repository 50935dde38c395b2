"""The instance_store role (Ubuntu pools with instanceStore: raid0): the layout nodeadm gives AL2023 nodes.

Upstream, awslabs/amazon-eks-ami templates/al2023/runtime/bin/setup-local-disks (raid0): the disks are the
links under /dev/disk/by-id named '*NVMe_Instance_Storage_*', resolved and deduplicated; `mdadm --create
--force --verbose /dev/md/kubernetes --level=0 --name=kubernetes --raid-devices=N <disks>`, created only when
no array is assembled; `mkfs.xfs -K -l su=8b` only when the array has no file system; mounted at
/mnt/k8s-disks/0; /var/lib/kubelet, /var/lib/containerd and /var/log/pods copied to it (`cp -a`) and
bind-mounted from it, with the services using them stopped meanwhile. The script is rendered by the role and
run against a stand-in for those system commands (no md driver here: the kernel has no /proc/mdstat); the copy
is real. Its unit is checked with systemd-analyze verify.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from playbook_helpers import FIXTURES, run_site

SCRIPT = "usr/local/sbin/gpufleet-local-disks"
UNIT = "etc/systemd/system/gpufleet-local-disks.service"
STANDIN = FIXTURES / "storage-standin.py"
DISKS = ["nvme1n1", "nvme2n1"]


@pytest.fixture()
def node(tmp_path):
    """A node's paths under tmp_path: two instance-store disks (each linked twice, as udev does) and state."""
    by_id, dev = tmp_path / "by-id", tmp_path / "dev"
    by_id.mkdir()
    dev.mkdir()
    for i, disk in enumerate(DISKS):
        (dev / disk).touch()
        (by_id / f"nvme-Amazon_EC2_NVMe_Instance_Storage_AWS{i}").symlink_to(dev / disk)
        (by_id / f"nvme-Amazon_EC2_NVMe_Instance_Storage_AWS{i}_1").symlink_to(dev / disk)
    (by_id / "nvme-Amazon_Elastic_Block_Store_vol0").symlink_to(dev / "nvme0n1")  # the root volume: not taken
    kubelet = tmp_path / "var/lib/kubelet"
    kubelet.mkdir(parents=True)
    (kubelet / "kubeconfig").write_text("from the AMI\n")
    (tmp_path / "var/lib/containerd").mkdir(parents=True)
    return tmp_path


def render(node) -> object:
    root = node / "root"
    run = run_site(node / "w", {"node": {}}, facts={"node": "ubuntu-24.04"}, tags="instance_store",
                   extravars={"gpufleet_root": str(root), "instance_store_raid0": True,
                              "instance_store_disks_dir": str(node / "by-id"),
                              "instance_store_mount_point": str(node / "mnt/k8s-disks/0"),
                              "instance_store_bind_mounts": [str(node / d) for d in
                                                             ("var/lib/kubelet", "var/lib/containerd", "var/log/pods")],
                              "instance_store_command_wrapper": f"{sys.executable} {STANDIN}"})
    assert run.rc == 0, run.stdout
    return root


def boot(node, root, **state):
    path = node / "storage-state.json"
    path.write_text(json.dumps({"arrays": {}, "mounts": {}, "active": [], "calls": [], **state}))
    result = subprocess.run([sys.executable, str(root / SCRIPT)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "GPUFLEET_STORAGE_STATE": str(path)})
    return result, json.loads(path.read_text())


def test_a_fresh_node_gets_one_raid0_array_with_the_state_on_it(node):
    result, state = boot(node, render(node), active=["containerd.service"])
    assert result.returncode == 0, result.stderr
    disks = [str(node / "dev" / d) for d in DISKS]
    assert state["calls"][2] == ("mdadm --create --force --verbose /dev/md/kubernetes --level=0 --name=kubernetes "
                                 f"--raid-devices=2 {' '.join(disks)}")
    assert "mkfs.xfs -K -l su=8b /dev/md/kubernetes" in state["calls"]
    array = str(node / "mnt/k8s-disks/0")
    assert state["mounts"] == {
        array: "/dev/md/kubernetes",
        **{str(node / d): f"{array}/{d.rsplit('/', 1)[1]}" for d in ("var/lib/kubelet", "var/lib/containerd", "var/log/pods")},
    }
    assert (node / "mnt/k8s-disks/0/kubelet/kubeconfig").read_text() == "from the AMI\n"  # really copied
    # containerd was stopped while its state moved, and is started again without waiting: it is ordered after
    # this unit, whose start job is the one running the script.
    assert state["calls"].index("systemctl stop containerd.service") < state["calls"].index(
        f"mount --bind {array}/containerd {node / 'var/lib/containerd'}")
    assert state["calls"][-1] == "systemctl start --no-block containerd.service"
    assert state["active"] == ["containerd.service"]


def test_a_reboot_mounts_the_assembled_array_again_and_copies_nothing(node):
    root = render(node)
    (node / "mnt/k8s-disks/0/kubelet").mkdir(parents=True)
    (node / "mnt/k8s-disks/0/kubelet/kubeconfig").write_text("newer, on the array\n")
    assembled = {"/dev/md/kubernetes_0": {"name": "ip-10-0-0-1:kubernetes", "disks": [], "fs": "xfs"}}
    result, state = boot(node, root, arrays=assembled)
    assert result.returncode == 0, result.stderr
    assert not [c for c in state["calls"] if c.startswith(("mdadm --create", "mkfs"))], state["calls"]
    assert state["mounts"][str(node / "mnt/k8s-disks/0")] == "/dev/md/kubernetes_0"
    assert (node / "mnt/k8s-disks/0/kubelet/kubeconfig").read_text() == "newer, on the array\n"


def test_newer_mdadm_without_name_is_still_recognised_by_the_device(node):
    assembled = {"/dev/md/kubernetes_0": {"name": "", "disks": [], "fs": "xfs"}}
    result, state = boot(node, render(node), arrays=assembled, names=False)
    assert result.returncode == 0, result.stderr
    assert not [c for c in state["calls"] if c.startswith(("mdadm --create", "mkfs"))], state["calls"]


def test_an_inactive_array_is_never_built_over(node):
    inactive = {"/dev/md/kubernetes": {"name": "h:kubernetes", "disks": [], "fs": "xfs", "inactive": True}}
    result, state = boot(node, render(node), arrays=inactive)
    assert result.returncode != 0 and "inactive" in result.stderr
    assert not [c for c in state["calls"] if c.startswith("mdadm --create")]


def test_a_copy_cut_short_is_made_again(node):
    root = render(node)
    (node / "mnt/k8s-disks/0/kubelet.copying").mkdir(parents=True)  # an earlier boot died mid-copy
    result, _ = boot(node, root)
    assert result.returncode == 0, result.stderr
    assert (node / "mnt/k8s-disks/0/kubelet/kubeconfig").read_text() == "from the AMI\n"
    assert not (node / "mnt/k8s-disks/0/kubelet.copying").exists()


def test_a_node_without_instance_store_disks_fails_and_names_the_option(node):
    shutil.rmtree(node / "by-id")
    (node / "by-id").mkdir()
    result, state = boot(node, render(node))
    assert result.returncode != 0
    assert "no NVMe instance-store disks" in result.stderr and "instanceStore: raid0" in result.stderr
    assert state["mounts"] == {}


def test_a_failed_step_fails_the_boot_and_mounts_nothing(node):
    result, state = boot(node, render(node), fail=["mkfs.xfs"])
    assert result.returncode != 0
    assert "gpufleet-local-disks: mkfs.xfs -K -l su=8b /dev/md/kubernetes failed" in result.stderr
    assert state["mounts"] == {}


def test_an_array_of_another_name_is_not_taken_for_ours(node):
    other = {"/dev/md/other": {"name": "h:other", "disks": [], "fs": "ext4"}}
    result, state = boot(node, render(node), arrays=other)
    assert result.returncode == 0, result.stderr
    assert any(c.startswith("mdadm --create --force --verbose /dev/md/kubernetes") for c in state["calls"])


def test_pools_without_it_get_nothing(tmp_path):
    root = tmp_path / "root"
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "ubuntu-24.04"}, tags="instance_store",
                   extravars={"gpufleet_root": str(root)})
    assert run.rc == 0, run.stdout
    assert not (root / SCRIPT).exists() and not (root / UNIT).exists()


def test_systemd_accepts_the_unit_and_orders_it_before_containerd_and_the_kubelet(node):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze (systemd) is needed to verify the unit files the roles write")
    unit = render(node) / UNIT
    text = unit.read_text()
    # Canonical's EKS images run the kubelet from the kubelet-eks snap (documentation.ubuntu.com/aws, "Snap usage
    # in EKS worker images"): its unit is snap.kubelet-eks.daemon.service.
    assert "Before=containerd.service snap.kubelet-eks.daemon.service" in text
    assert "RequiredBy=containerd.service snap.kubelet-eks.daemon.service" in text  # no array: state on the root
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{unit.parent}:"})
    assert result.returncode == 0 and "gpufleet-local-disks" not in result.stdout + result.stderr, result.stderr
