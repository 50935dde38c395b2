"""gpu_verify parses captured nvidia-smi output and refuses a broken node."""

from __future__ import annotations

from playbook_helpers import FIXTURES, run_site, smi

RUNTIME = {"gpu_verify_container_runtime_configs": [str(FIXTURES / "containerd" / "config.toml")]}
# AMI mode: only gpu_verify runs, as on a node whose image ships the driver.
COMMON = {"gpufleet_install": False, "nvidia_driver_version": "570.133.20", **RUNTIME}

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
        assert run.count("ok", host) == 7, host
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


def test_gpu_verify_rejects_a_node_without_the_container_runtime(tmp_path):
    missing = str(tmp_path / "etc/containerd/conf.d/99-nvidia.toml")
    run = run_site(tmp_path / "w", _hosts({"g6-l4": GOOD["g6-l4"]}),
                   extravars={**COMMON, "gpu_verify_container_runtime_configs": [missing]})
    assert run.rc != 0
    [(task, msg)] = run.failures("g6-l4")
    assert task == "Check that containerd is configured with the NVIDIA runtime."
    assert f"expected nvidia-container-runtime in one of {missing}, found none." in msg
