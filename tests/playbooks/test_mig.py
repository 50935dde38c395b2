"""The nvidia_mig role: the geometry applied by a script at every boot, and gpu_verify counting it.

GPU instances do not survive a reboot, MIG mode needs a GPU reset before it takes effect, and
`nvidia-smi -L` lists each MIG device under its GPU (NVIDIA MIG user guide; NVIDIA/mig-parted's
README: configurations do not persist across reboots). The script is rendered by the role and run
against a stand-in for the nvidia-smi commands it uses (no GPU here); its unit is checked with
systemd-analyze verify.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys

import pytest
from playbook_helpers import FIXTURES, RUNTIME_IN_USE, run_site, smi

SCRIPT = "usr/local/sbin/gpufleet-mig"
UNIT = "etc/systemd/system/gpufleet-mig.service"
STANDIN = FIXTURES / "nvidia-smi-standin.py"
H100_HALVES = ["3g.40gb", "3g.40gb"]
# NVIDIA's balanced geometry for an H100 80GB (NVIDIA/mig-parted pkg/mig/builder/balanced_test.go).
H100_BALANCED = ["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"]


def render(base, devices):
    """The role applied into a root: the script (talking to the stand-in) and the unit."""
    root = base / "root"
    run = run_site(base / "w", {"node": {}}, facts={"node": "amazon-2023"}, tags="nvidia_mig",
                   extravars={"gpufleet_root": str(root), "nvidia_mig_devices": devices,
                              "nvidia_mig_nvidia_smi": f"{sys.executable} {STANDIN}"})
    assert run.rc == 0, run.stdout
    return root


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(tmp_path_factory.mktemp("mig"), H100_HALVES)


@pytest.fixture(scope="module")
def balanced(tmp_path_factory):
    return render(tmp_path_factory.mktemp("mig-balanced"), H100_BALANCED)


def run_script(rendered, tmp_path, **state):
    path = tmp_path / "smi-state.json"
    gpus = state.pop("gpus", 8)
    path.write_text(json.dumps({
        "gpus": gpus, "mig": {str(i): "Disabled" for i in range(gpus)}, "pending": {},
        "instances": {str(i): [] for i in range(gpus)}, "reset_works": True, "calls": [], **state}))
    result = subprocess.run([sys.executable, str(rendered / SCRIPT)], capture_output=True, text=True,
                            env={**os.environ, "GPUFLEET_SMI_STATE": str(path)}, timeout=60)
    return result, json.loads(path.read_text())


def test_a_fresh_node_is_put_in_mig_mode_and_partitioned(rendered, tmp_path):
    result, state = run_script(rendered, tmp_path)
    assert result.returncode == 0, result.stderr
    assert state["mig"] == {str(i): "Enabled" for i in range(8)}
    assert state["instances"] == {str(i): H100_HALVES for i in range(8)}
    assert "mig -i 0 -cgi 3g.40gb,3g.40gb -C" in state["calls"]


def test_a_node_partitioned_as_asked_is_left_alone(rendered, tmp_path):
    result, state = run_script(rendered, tmp_path, mig={str(i): "Enabled" for i in range(8)},
                               instances={str(i): list(H100_HALVES) for i in range(8)})
    assert result.returncode == 0, result.stderr
    assert not [c for c in state["calls"] if "-cgi" in c or "-dgi" in c or "-mig" in c], state["calls"]


def test_another_geometry_is_replaced(rendered, tmp_path):
    result, state = run_script(rendered, tmp_path, gpus=2, mig={"0": "Enabled", "1": "Enabled"},
                               instances={"0": ["1g.10gb"] * 7, "1": list(H100_HALVES)})
    assert result.returncode == 0, result.stderr
    assert state["instances"] == {"0": H100_HALVES, "1": H100_HALVES}
    assert "mig -i 0 -dgi" in state["calls"] and "mig -i 1 -dgi" not in state["calls"]


def test_a_mixed_geometry_is_created_largest_first(balanced, tmp_path):
    result, state = run_script(balanced, tmp_path, gpus=1)
    assert result.returncode == 0, result.stderr
    assert sorted(state["instances"]["0"]) == H100_BALANCED
    assert [c for c in state["calls"] if "-cgi" in c] == ["mig -i 0 -cgi 3g.40gb,2g.20gb,1g.10gb,1g.10gb -C"]


def test_an_order_that_finds_no_placement_is_cleared_and_another_tried(balanced, tmp_path):
    refused = ["3g.40gb,2g.20gb,1g.10gb,1g.10gb", "3g.40gb,1g.10gb,2g.20gb,1g.10gb"]
    result, state = run_script(balanced, tmp_path, gpus=1, refuse_orders=refused)
    assert result.returncode == 0, result.stderr
    assert sorted(state["instances"]["0"]) == H100_BALANCED  # nothing left over from the refused tries
    tried = [c.split()[4] for c in state["calls"] if "-cgi" in c]
    assert tried == [*refused, "3g.40gb,1g.10gb,1g.10gb,2g.20gb"]
    assert len(set(tried)) == len(tried)  # each distinct order once


def test_a_geometry_no_order_can_create_fails_the_node_and_leaves_the_gpu_empty(balanced, tmp_path):
    every = [",".join(o) for o in set(itertools.permutations(H100_BALANCED))]
    result, state = run_script(balanced, tmp_path, gpus=1, refuse_orders=every)
    assert result.returncode != 0
    assert "GPU 0 cannot be partitioned as 1g.10gb, 1g.10gb, 2g.20gb, 3g.40gb in any order" in result.stderr
    assert len([c for c in state["calls"] if "-cgi" in c]) == len(every) == 12
    assert state["instances"] == {"0": []}


def test_a_gpu_that_cannot_be_reset_fails_the_node(rendered, tmp_path):
    result, state = run_script(rendered, tmp_path, reset_works=False)
    assert result.returncode != 0
    assert "MIG mode is not enabled on GPU 0, 1" in result.stderr and "a reboot may be needed" in result.stderr
    assert not [c for c in state["calls"] if "-cgi" in c]


def test_on_ubuntu_the_unit_precedes_the_kubelet_eks_snap(tmp_path):
    """Canonical's EKS images run the kubelet from the kubelet-eks snap (documentation.ubuntu.com/aws, "Snap usage
    in EKS worker images"); snapd names its unit snap.<snap>.<app>.service, the app being the daemon."""
    root = tmp_path / "root"
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "ubuntu-24.04"}, tags="nvidia_mig",
                   extravars={"gpufleet_root": str(root), "nvidia_mig_devices": H100_HALVES})
    assert run.rc == 0, run.stdout
    text = (root / UNIT).read_text()
    assert "Before=snap.kubelet-eks.daemon.service\n" in text and "RequiredBy=snap.kubelet-eks.daemon.service\n" in text


def test_systemd_accepts_the_unit_and_orders_it_before_the_kubelet(rendered):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze (systemd) is needed to verify the unit files the roles write")
    unit = rendered / UNIT
    text = unit.read_text()
    assert "Before=nodeadm-run.service kubelet.service" in text and "WantedBy=multi-user.target" in text
    assert "RequiredBy=nodeadm-run.service kubelet.service" in text  # a failed run keeps the kubelet down
    assert "After=nvidia-persistenced.service nvidia-fabricmanager.service" in text
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{unit.parent}:"})
    assert result.returncode == 0 and "gpufleet-mig" not in result.stdout + result.stderr, result.stderr


VERIFY = {**RUNTIME_IN_USE, "gpufleet_install": False, "nvidia_driver_version": "570.133.20",
          "gpu_verify_nvidia_smi_command": smi("p5.48xlarge-h100.csv"), "gpu_verify_expected_gpu_count": 8}


@pytest.mark.parametrize("devices, ok", [(H100_HALVES, True), (["1g.10gb"] * 7, False), (["3g.40gb"], False)])
def test_gpu_verify_counts_the_mig_devices(tmp_path, devices, ok):
    run = run_site(tmp_path / "w", {"node": {}}, tags="gpu_verify",
                   extravars={**VERIFY, "nvidia_mig_devices": devices,
                              "gpu_verify_gpu_list_command": f"cat {FIXTURES / 'nvidia-smi' / 'p5.48xlarge-mig-3g.40gb.txt'}"})
    assert (run.rc == 0) is ok, run.stdout
    if not ok:
        [(task, msg)] = run.failures("node")
        assert task == "Check that every GPU is partitioned into the pool's MIG instances."
        assert "found 16 (3g.40gb)" in msg
