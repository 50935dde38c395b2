"""The site playbook, run for real: check mode per OS, and the configuration
parts applied twice into a throwaway root (the second run changes nothing)."""

from __future__ import annotations

import tomllib

import pytest
from playbook_helpers import RUNTIME_IN_USE, SUPPORTED_OS, containerd_dump, run_site, smi

REPORT = "Report the NVIDIA driver release and packages chosen for this host."
DEVICE_SELECTION = "Choose how containers may select GPUs (the runtime's own config, also on images that ship the toolkit)."
# The keys of the toolkit's config.toml as the package ships them: commented out above the first table
# (NVIDIA/nvidia-container-toolkit, the generated default config; internal/config/config.go up to 1.18,
# api/config/v1/config.go from 1.19: envvar-when-unprivileged defaults to true, volume mounts to false).
PACKAGED_RUNTIME_CONFIG = """\
#accept-nvidia-visible-devices-as-volume-mounts = false
#accept-nvidia-visible-devices-envvar-when-unprivileged = true
disable-require = false

[nvidia-container-cli]
environment = []
ldconfig = "@/sbin/ldconfig"

[nvidia-container-runtime]
log-level = "info"
"""


def _node(node_vars, root, check=True, **overrides):
    """Vars of a node whose containerd already loads the NVIDIA runtime (gpu_verify reads a captured dump)."""
    return {
        **node_vars,
        "gpufleet_root": str(root),
        "gpu_verify_nvidia_smi_command": smi("p5.48xlarge-h100.csv"),
        "gpu_verify_fabric_command": smi("p5.48xlarge-fabric-completed.csv"),
        **RUNTIME_IN_USE,
        **overrides,
    }


@pytest.mark.parametrize("os_name", SUPPORTED_OS)
def test_check_mode_runs_every_role_for_each_supported_os(tmp_path, node_vars, os_name):
    root = tmp_path / "root"
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": os_name},
                   extravars=_node(node_vars, root), check=True)
    assert run.rc == 0, run.stdout
    assert run.count("failures", "node") == 0
    assert run.count("changed", "node") > 0, "check mode should report the files it would write"
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*")), "check mode wrote files"

    report = run.results("node", REPORT)
    assert len(report) == 1, run.stdout
    msg = report[0]["msg"]
    assert msg["version"] == "570.133.20" and msg["branch"] == "570"
    assert msg["kernel_modules"] == "open"
    expected_repo = {
        "ubuntu-22.04": "/ubuntu2204/x86_64",
        "ubuntu-24.04": "/ubuntu2404/x86_64",
        "amazon-2023": "/amzn2023/x86_64",
    }[os_name]
    assert msg["repository"].endswith(expected_repo)
    if os_name.startswith("ubuntu"):
        assert "nvidia-driver-570-open=570.133.20-*" in msg["packages"]
        assert msg["module_stream"] == ""
    else:
        assert "kmod-nvidia-open-dkms-570.133.20" in msg["packages"]
        assert "nvidia-driver-570.133.20" in msg["packages"]
        # NVIDIA driver installation guide, Amazon Linux 2023: `dnf module enable nvidia-driver:<branch>-open`
        # before the packages (proprietary modules: <branch>-dkms).
        assert msg["module_stream"] == "nvidia-driver:570-open"
    # Every role ran, fabric manager included (NVSwitch pool), verify last.
    roles = [ev["event_data"].get("role") for ev in run.events if ev["event"] == "playbook_on_task_start"]
    assert [r for i, r in enumerate(roles) if r and r not in roles[:i]] == [
        "instance_store", "nvidia_driver", "nvidia_container_toolkit", "nvidia_fabric_manager", "aws_efa", "nvidia_mig",
        "gpu_verify"]


@pytest.mark.integration  # two playbook runs: ~20 s on 2 cores
@pytest.mark.parametrize("os_name", ["ubuntu-22.04", "amazon-2023"])
def test_configuration_applies_into_a_root_and_is_idempotent(tmp_path, node_vars, os_name):
    root = tmp_path / "root"
    extravars = _node(node_vars, root, check=False)
    first = run_site(tmp_path / "w", {"node": {}}, facts={"node": os_name}, extravars=extravars, tags="config")
    assert first.rc == 0, first.stdout
    assert first.count("changed", "node") >= 5

    etc = root / "etc"
    blacklist = (etc / "modprobe.d" / "blacklist-nouveau.conf").read_text()
    assert "blacklist nouveau\n" in blacklist and "options nouveau modeset=0\n" in blacklist

    override = (etc / "systemd/system/nvidia-persistenced.service.d/override.conf").read_text()
    assert "ExecStart=\n" in override
    assert "ExecStart=/usr/bin/nvidia-persistenced --user nvidia-persistenced --persistence-mode --verbose\n" in override

    dropin = tomllib.loads((etc / "containerd/conf.d/99-nvidia.toml").read_text())
    assert dropin["version"] == 2
    cri = dropin["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert cri["default_runtime_name"] == "nvidia"
    assert cri["runtimes"]["nvidia"]["runtime_type"] == "io.containerd.runc.v2"
    assert cri["runtimes"]["nvidia"]["options"] == {
        "BinaryName": "/usr/bin/nvidia-container-runtime", "SystemdCgroup": True}
    assert not (etc / "containerd" / "config.toml").exists(), "config.toml must never be written"
    assert (etc / "cdi").is_dir()
    runtime = tomllib.loads((etc / "nvidia-container-runtime/config.toml").read_text())
    assert runtime == {"accept-nvidia-visible-devices-envvar-when-unprivileged": False,
                       "accept-nvidia-visible-devices-as-volume-mounts": True}

    if os_name.startswith("ubuntu"):
        cuda = (etc / "apt/sources.list.d/nvidia-cuda.list").read_text()
        assert ("deb [signed-by=/etc/apt/keyrings/nvidia-cuda.asc] "
                "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64/ /") in cuda
        ctk = (etc / "apt/sources.list.d/nvidia-container-toolkit.list").read_text()
        assert "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /" in ctk
    else:
        cuda = (etc / "yum.repos.d/nvidia-cuda.repo").read_text()
        assert "baseurl=https://developer.download.nvidia.com/compute/cuda/repos/amzn2023/x86_64\n" in cuda
        assert "gpgcheck=1\n" in cuda
        ctk = (etc / "yum.repos.d/nvidia-container-toolkit.repo").read_text()
        assert "baseurl=https://nvidia.github.io/libnvidia-container/stable/rpm/$basearch\n" in ctk

    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    second = run_site(tmp_path / "w", {"node": {}}, facts={"node": os_name}, extravars=extravars, tags="config")
    assert second.rc == 0, second.stdout
    assert second.count("changed", "node") == 0, second.stdout
    assert second.count("ok", "node") >= 5
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


@pytest.mark.integration  # two playbook runs
def test_device_selection_is_set_in_the_packaged_config_in_place(tmp_path, node_vars):
    """Unprivileged containers may not pick GPUs by NVIDIA_VISIBLE_DEVICES (a tenant image setting =all
    would see every GPU: NVIDIA/k8s-device-plugin issue 1605, gpu-operator issue 700); the runtime takes
    the device plugin's volume mounts instead. The toolkit treats a container as privileged when
    CAP_SYS_ADMIN is in its bounding set, which is why the plugin and dcgm-exporter carry it."""
    root = tmp_path / "root"
    config = root / "etc/nvidia-container-runtime/config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(PACKAGED_RUNTIME_CONFIG)
    extravars = _node(node_vars, root, check=False, gpufleet_install=False)
    for attempt in ("first", "second"):
        run = run_site(tmp_path / attempt, {"node": {}}, facts={"node": "amazon-2023"}, extravars=extravars,
                       tags="nvidia_container_toolkit")
        assert run.rc == 0, run.stdout
        settings = tomllib.loads(config.read_text())
        assert settings["accept-nvidia-visible-devices-envvar-when-unprivileged"] is False
        assert settings["accept-nvidia-visible-devices-as-volume-mounts"] is True
        assert settings["nvidia-container-cli"]["ldconfig"] == "@/sbin/ldconfig"  # the rest untouched
        assert config.read_text().count("accept-nvidia-visible-devices") == 2
    assert run.count("changed", "node") == 0, "the second run changed the file again"


def test_containerd_2_gets_a_version_3_drop_in(tmp_path, node_vars):
    root = tmp_path / "root"
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "ubuntu-24.04"}, tags="config",
                   extravars=_node(node_vars, root, check=False, nvidia_container_toolkit_containerd_config_version=3,
                                   nvidia_container_toolkit_containerd_default_runtime=False))
    assert run.rc == 0, run.stdout
    dropin = tomllib.loads((root / "etc/containerd/conf.d/99-nvidia.toml").read_text())
    assert dropin["version"] == 3
    cri = dropin["plugins"]["io.containerd.cri.v1.runtime"]["containerd"]
    assert "default_runtime_name" not in cri
    assert cri["runtimes"]["nvidia"]["options"]["BinaryName"] == "/usr/bin/nvidia-container-runtime"


def test_open_kernel_modules_are_refused_before_turing(tmp_path, node_vars):
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "ubuntu-22.04"}, check=True,
                   extravars=_node(node_vars, tmp_path / "root", nvidia_driver_gpu_architecture="Volta"))
    assert run.rc != 0
    [(task, msg)] = run.failures("node")
    assert task.startswith("Check that the open kernel modules")
    assert "GPU architecture is 'Volta'" in msg
    assert "Set nvidia_driver_open_kernel_modules to false" in msg


def test_proprietary_modules_are_refused_on_blackwell(tmp_path, node_vars):
    """Blackwell is supported only by the open kernel modules (NVIDIA driver installation guide, kernel modules)."""
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "amazon-2023"}, check=True,
                   extravars=_node(node_vars, tmp_path / "root", nvidia_driver_gpu_architecture="Blackwell",
                                   nvidia_driver_open_kernel_modules=False))
    assert run.rc != 0
    [(task, msg)] = run.failures("node")
    assert task == "Check that the proprietary kernel modules are not requested for GPUs only the open ones support."
    assert "'Blackwell', which only the open kernel modules" in msg


def test_proprietary_modules_are_accepted_on_volta(tmp_path, node_vars):
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "ubuntu-22.04"}, check=True,
                   extravars=_node(node_vars, tmp_path / "root", nvidia_driver_gpu_architecture="Volta",
                                   nvidia_driver_open_kernel_modules=False))
    assert run.rc == 0, run.stdout
    msg = run.results("node", REPORT)[0]["msg"]
    assert msg["kernel_modules"] == "proprietary"
    assert "nvidia-driver-570=570.133.20-*" in msg["packages"]


def test_proprietary_modules_use_the_dkms_stream_on_amazon_linux(tmp_path, node_vars):
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "amazon-2023"}, check=True,
                   extravars=_node(node_vars, tmp_path / "root", nvidia_driver_gpu_architecture="Volta",
                                   nvidia_driver_open_kernel_modules=False))
    assert run.rc == 0, run.stdout
    msg = run.results("node", REPORT)[0]["msg"]
    assert msg["module_stream"] == "nvidia-driver:570-dkms"
    assert "kmod-nvidia-latest-dkms-570.133.20" in msg["packages"]


def test_ami_mode_sets_device_selection_and_verifies(tmp_path, node_vars):
    # First on a node whose containerd still runs runc: the runtime check fails; then on a good one.
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "amazon-2023"}, check=True,
                   extravars=_node(node_vars, tmp_path / "root", gpufleet_install=False,
                                   gpu_verify_containerd_config_command=containerd_dump("dump-runc.toml")))
    assert run.rc != 0
    assert [t for t, _ in run.failures("node")] == ["Check that containerd runs containers through the NVIDIA runtime."]
    run = run_site(tmp_path / "w2", {"node": {}}, facts={"node": "amazon-2023"}, check=True,
                   extravars=_node(node_vars, tmp_path / "root", gpufleet_install=False))
    assert run.rc == 0, run.stdout
    ran = {ev["event_data"].get("role") for ev in run.events
           if ev["event"] in ("runner_on_ok", "runner_on_failed")}
    # The image's toolkit is not reinstalled, but its device selection settings are applied.
    assert ran == {"nvidia_container_toolkit", "gpu_verify"}
    changed = [ev["event_data"]["task"] for ev in run.events
               if ev["event"] == "runner_on_ok" and ev["event_data"]["res"].get("changed")]
    assert changed == [DEVICE_SELECTION]


def test_fabric_manager_is_skipped_without_nvswitch(tmp_path, node_vars):
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "ubuntu-22.04"}, check=True,
                   extravars=_node(node_vars, tmp_path / "root", nvidia_fabric_manager_enabled=False))
    assert run.rc == 0, run.stdout
    ran = {ev["event_data"].get("role") for ev in run.events if ev["event"] == "runner_on_ok"}
    assert "nvidia_fabric_manager" not in ran and "nvidia_driver" in ran


FABRIC_REPORT = "Report the Fabric Manager packages chosen for this host."


@pytest.mark.parametrize("os_name, driver, packages", [
    ("ubuntu-22.04", "570.133.20", ["nvidia-fabricmanager-570=570.133.20-*", "libnvidia-nscq-570=570.133.20-*"]),
    ("ubuntu-24.04", "580.95.05", ["nvidia-fabricmanager=580.95.05-*", "libnvidia-nscq=580.95.05-*"]),
    ("amazon-2023", "570.133.20", ["nvidia-fabric-manager-570.133.20", "libnvidia-nscq-570-570.133.20"]),
    ("amazon-2023", "580.95.05", ["nvidia-fabricmanager-580.95.05", "libnvidia-nscq-580.95.05"]),
])
def test_fabric_manager_packages_are_named_by_branch(tmp_path, node_vars, os_name, driver, packages):
    """From branch 580 on NVIDIA's CUDA repositories drop the branch from the package names, and the rpm
    loses the dash in fabric-manager (NVIDIA/gpu-driver-container, the ubuntu and rhel driver scripts;
    awslabs/amazon-eks-ami templates/al2023/provisioners/install-nvidia-driver.sh: "versions before 580
    used to have a dash between fabric and manager")."""
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": os_name}, check=True, tags="nvidia_fabric_manager",
                   extravars=_node(node_vars, tmp_path / "root", nvidia_driver_version=driver))
    assert run.rc == 0, run.stdout
    msg = run.results("node", FABRIC_REPORT)[0]["msg"]
    assert msg["packages"] == packages and msg["nvlsm_packages"] == []


@pytest.mark.parametrize("os_name, umad", [("ubuntu-24.04", "libibumad3"), ("amazon-2023", "libibumad")])
def test_nvlink5_systems_get_nvlsm(tmp_path, node_vars, os_name, umad):
    """HGX B200 (NVLink5) needs the NVLink Subnet Manager, started by the fabric manager's service, with
    infiniband-diags and libibumad, and ib_umad loaded (NVIDIA Fabric Manager user guide, NVLink5 systems)."""
    root = tmp_path / "root"
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": os_name}, tags="nvidia_fabric_manager",
                   extravars=_node(node_vars, root, check=False, nvidia_fabric_manager_nvlsm=True,
                                   nvidia_driver_version="580.95.05"))
    assert run.rc == 0, run.stdout
    msg = run.results("node", FABRIC_REPORT)[0]["msg"]
    assert msg["nvlsm_packages"] == ["nvlsm", "infiniband-diags", umad]
    assert (root / "etc/modules-load.d/ib-umad.conf").read_text().splitlines()[-1] == "ib_umad"


def test_fabric_manager_must_match_the_driver(tmp_path, node_vars):
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "ubuntu-22.04"}, check=True,
                   extravars=_node(node_vars, tmp_path / "root", nvidia_fabric_manager_version="570.124.06"))
    assert run.rc != 0
    [(task, msg)] = run.failures("node")
    assert task == "Check that the Fabric Manager release matches the driver release."
    assert "570.124.06 differs from nvidia_driver_version 570.133.20" in msg
