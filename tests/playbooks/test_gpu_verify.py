"""gpu_verify parses captured nvidia-smi output and refuses a broken node."""

from __future__ import annotations

import pytest
from playbook_helpers import RUNTIME_IN_USE, containerd_dump, run_site, smi

# AMI mode: only gpu_verify runs, as on a node whose image ships the driver.
COMMON = {"gpufleet_install": False, "nvidia_driver_version": "570.133.20", **RUNTIME_IN_USE}

GOOD = {
    "g4dn-t4": ("g4dn.xlarge-t4.csv", 1, "T4"),
    "g5-a10g": ("g5.12xlarge-a10g.csv", 4, "A10G"),
    "g6-l4": ("g6.xlarge-l4.csv", 1, "L4"),
    "p4d-a100": ("p4d.24xlarge-a100.csv", 8, "A100"),
    "p5-h100": ("p5.48xlarge-h100.csv", 8, "h100"),  # case-insensitive
}


def _hosts(table):
    return {
        host: {
            "gpu_verify_nvidia_smi_command": command if command.startswith("sh ") else smi(command),
            "gpu_verify_expected_gpu_count": count,
            "gpu_verify_expected_gpu_model": model,
        }
        for host, (command, count, model) in table.items()
    }


def test_gpu_verify_accepts_the_captured_outputs_of_each_gpu(tmp_path):
    run = run_site(tmp_path / "w", _hosts(GOOD), extravars=COMMON, tags="gpu_verify")
    assert run.rc == 0, run.stdout
    for host in GOOD:
        assert run.count("failures", host) == 0, host
        assert run.count("changed", host) == 0, host
        assert run.count("ok", host) == 8, host
    parsed = run.results("p4d-a100", "Parse the GPUs reported by nvidia-smi.")[0]
    assert parsed["ansible_facts"]["gpu_verify_gpus"] == [["NVIDIA A100-SXM4-40GB", "570.133.20"]] * 8


def test_gpu_verify_rejects_each_mismatch(tmp_path):
    bad = {
        "old-driver": ("g5.xlarge-a10g-old-driver.csv", 1, "A10G"),
        "missing-gpu": ("p5.48xlarge-h100-one-missing.csv", 8, "H100"),
        "wrong-model": ("g5.12xlarge-a10g.csv", 4, "L4"),
        "no-devices": ("sh -c 'echo No devices were found; exit 6'", 1, "T4"),
    }
    run = run_site(tmp_path / "w", _hosts(bad), extravars=COMMON)
    assert run.rc != 0
    assert set(run.stats["failures"]) == set(bad)

    [(task, msg)] = run.failures("old-driver")
    assert task == "Check that every GPU runs the expected driver release."
    assert "Driver version mismatch: expected 570.133.20, found 535.230.02." in msg

    [(task, msg)] = run.failures("missing-gpu")
    assert task == "Check that the node shows the expected number of GPUs."
    assert "GPU count mismatch: expected 8 GPUs, found 7" in msg

    [(task, msg)] = run.failures("wrong-model")
    assert task == "Check that every GPU is of the expected model."
    assert "GPU model mismatch: expected L4, found NVIDIA A10G." in msg

    [(task, _)] = run.failures("no-devices")
    assert task == "Query the GPUs and the driver release with nvidia-smi."


@pytest.mark.parametrize("dump, binary_present", [("dump-runc.toml", True), ("dump-nvidia.toml", False),
                                                  ("dump-nvidia-binary-elsewhere.toml", True)],
                         ids=["containerd-runs-runc", "runtime-binary-missing", "binary-of-another-table"])
def test_gpu_verify_rejects_a_node_whose_containerd_does_not_use_the_runtime(tmp_path, dump, binary_present):
    """What containerd loads decides, not a file that may never be read: nodeadm's config.toml imports
    no drop-in (awslabs/amazon-eks-ami nodeadm/internal/containerd/config.template.toml)."""
    root = tmp_path / "root"
    if binary_present:
        binary = root / "usr/bin/nvidia-container-runtime"
        binary.parent.mkdir(parents=True)
        binary.write_text("")
        binary.chmod(0o755)
    run = run_site(tmp_path / "w", _hosts({"g6-l4": GOOD["g6-l4"]}), tags="gpu_verify",
                   extravars={**COMMON, "gpu_verify_containerd_config_command": containerd_dump(dump),
                              "gpu_verify_root": str(root)})
    assert run.rc != 0
    [(task, msg)] = run.failures("g6-l4")
    assert task == "Check that containerd runs containers through the NVIDIA runtime."
    assert "must make nvidia the default runtime, running /usr/bin/nvidia-container-runtime" in msg
    assert f"(present: {binary_present})" in msg


def test_gpu_verify_waits_for_no_gpu_outside_the_nvlink_fabric(tmp_path):
    """On NVSwitch systems every GPU must report fabric state Completed, status Success (NVIDIA Fabric
    Manager user guide: `nvidia-smi -q` Fabric section; In Progress / N/A while registering)."""
    hosts = _hosts({"p5-ok": ("p5.48xlarge-h100.csv", 8, "H100"), "p5-pending": ("p5.48xlarge-h100.csv", 8, "H100")})
    hosts["p5-ok"]["gpu_verify_fabric_command"] = smi("p5.48xlarge-fabric-completed.csv")
    hosts["p5-pending"]["gpu_verify_fabric_command"] = smi("p5.48xlarge-fabric-in-progress.csv")
    run = run_site(tmp_path / "w", hosts, tags="gpu_verify", extravars={**COMMON, "gpu_verify_expect_fabric": True})
    assert run.count("failures", "p5-ok") == 0
    [(task, msg)] = run.failures("p5-pending")
    assert task == "Check that every GPU joined the NVLink fabric."
    assert "In Progress, N/A" in msg
