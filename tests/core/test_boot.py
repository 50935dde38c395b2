"""Rendered node user data: a MIME multipart nodeadm accepts (AL2023), a cloud-config that cloud-init's
own schema validator accepts (Ubuntu), and the pool's Ansible vars in both."""

from __future__ import annotations

import email
import json
import shlex
import shutil
import subprocess

import pytest
import yaml
from fleet_fixtures import ROOT, STACKS, plan_of, stack_config, stack_run

from core.boot import (
    ANSIBLE_CORE_VERSION,
    BOOTSTRAP_SCRIPT,
    CLOUD_CONFIG_HEADER,
    MIME_BOUNDARY,
    ClusterJoin,
    node_labels,
    register_taints,
    render_user_data,
)
from core.names import NODEGROUP
from gpufleet.render import user_data_documents

CLUSTER = ClusterJoin("gpufleet-prod", "https://ABC.gr7.us-east-1.eks.amazonaws.com", "LS0tLS1CRUdJTg==")



def parts(text: str):
    message = email.message_from_string(text)
    assert message.is_multipart() and message.get_boundary() == MIME_BOUNDARY
    return {part.get_content_type(): part.get_payload() for part in message.get_payload()}


def cloud_config(text: str) -> dict:
    assert text.startswith(CLOUD_CONFIG_HEADER + "\n")
    return yaml.safe_load(text)


def boot_script(text: str) -> str:
    """The script cloud-init writes and runcmd runs."""
    document = cloud_config(text)
    [script] = [f["content"] for f in document["write_files"] if f["path"] == BOOTSTRAP_SCRIPT]
    assert document["runcmd"] == [[BOOTSTRAP_SCRIPT]]
    return script


def embedded_vars(script: str) -> dict:
    return json.loads(script.split("<<'GPUFLEET_VARS'\n", 1)[1].split("\nGPUFLEET_VARS", 1)[0])


def ubuntu_prod(release: str = "ubuntu-24.04"):
    """prod with every pool on Ubuntu: spot, EFA, MIG, time-slicing and a dedicated tenant's pool."""
    config = stack_config("prod")
    for pool in config["nodePools"]:
        pool.update(os=release, amiId="ami-0123456789abcdef0", provisioner=NODEGROUP)
        pool.get("cpuAlignment", {}).pop("reservedCpus", None)  # AL2023 only
        pool.pop("instanceStore", None)  # AL2023 only
    return plan_of(config)


def test_user_data_has_a_node_config_and_a_bootstrap_script():
    config = stack_config("prod")
    for pool in config["nodePools"]:
        pool["provisioner"] = NODEGROUP  # a Karpenter pool's NodeConfig leaves the flags to Karpenter (test_karpenter)
    plan = plan_of(config)
    pool = plan.pool("training-h100")
    found = parts(render_user_data(pool, "bucket-1", "playbooks/abc.zip"))
    assert set(found) == {"application/node.eks.aws", "text/x-shellscript"}
    node_config = yaml.safe_load(found["application/node.eks.aws"])
    assert node_config["kind"] == "NodeConfig" and node_config["apiVersion"] == "node.eks.aws/v1alpha1"
    flags = node_config["spec"]["kubelet"]["flags"]
    # training-h100 is reserved (no spot taint) and dedicated to foundation-models; training-a100 is spot.
    assert "--register-with-taints=nvidia.com/gpu=true:NoSchedule,gpufleet.io/tenant=foundation-models:NoSchedule" in flags
    spot = yaml.safe_load(parts(render_user_data(plan.pool("training-a100"), "b", "k"))["application/node.eks.aws"])
    assert "--register-with-taints=nvidia.com/gpu=true:NoSchedule,gpufleet.io/capacity=spot:NoSchedule" in \
        spot["spec"]["kubelet"]["flags"]
    script = found["text/x-shellscript"]
    assert script.startswith("#!/usr/bin/env bash")
    assert 's3://bucket-1/playbooks/abc.zip' in script
    assert '"p5.48xlarge": 8' in script
    assert "dnf install -y python3.11" in script and f"'ansible-core=={ANSIBLE_CORE_VERSION}'" in script
    assert "/etc/eks/bootstrap.sh" not in script


def test_script_carries_the_pool_vars_verbatim():
    plan = plan_of(stack_config("prod"))
    pool = plan.pool("training-a100")
    script = parts(render_user_data(pool, "b", "k"))["text/x-shellscript"]
    assert embedded_vars(script) == dict(pool.ansible_vars)


def test_ubuntu_user_data_is_a_cloud_config_that_joins_only_after_the_playbook():
    plan = ubuntu_prod()
    pool = plan.pool("training-h100")
    text = render_user_data(pool, "bucket-1", "playbooks/abc.zip", CLUSTER)
    document = cloud_config(text)
    assert "python3-venv" in document["packages"]
    script = boot_script(text)
    assert script.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in script
    assert embedded_vars(script) == dict(pool.ansible_vars)
    assert '"p5.48xlarge": 8' in script and "s3://bucket-1/playbooks/abc.zip" in script
    assert f"'ansible-core=={ANSIBLE_CORE_VERSION}'" in script and "dnf" not in script
    bootstrap = script.index("/etc/eks/bootstrap.sh gpufleet-prod")
    assert script.index("ansible-playbook -c local") < bootstrap
    assert (
        "--apiserver-endpoint https://ABC.gr7.us-east-1.eks.amazonaws.com \\\n"
        "  --b64-cluster-ca LS0tLS1CRUdJTg== \\\n"
        "  --kubelet-extra-args '--register-with-taints=nvidia.com/gpu=true:NoSchedule,"
        "gpufleet.io/tenant=foundation-models:NoSchedule "
        "--node-labels=gpufleet.io/capacity=reserved,"
    ) in script[bootstrap:]
    assert "gpufleet.io/pool=training-h100,gpufleet.io/sharing=exclusive,gpufleet.io/tenant=foundation-models," in script


def test_both_oses_share_the_boot_steps():
    """One macro: everything up to the ansible-core install, and from the bundle fetch to the playbook, is identical."""
    al2023 = plan_of(stack_config("prod"))
    mime = parts(render_user_data(al2023.pool("inference-l4"), "b", "k"))["text/x-shellscript"]
    plan = ubuntu_prod()
    ubuntu = boot_script(render_user_data(plan.pool("inference-l4"), "b", "k", CLUSTER))
    # Each OS installs ansible-core its own way between these two lines; AL2023 alone gates nodeadm-run
    # (Ubuntu joins at the end of the same script).
    head = mime.split("# ansible-core ")[0]
    gate = head[head.index("\n# The gate, ") : head.index("systemctl daemon-reload\n") + len("systemctl daemon-reload\n")]
    tail = mime.split('export PATH="$workdir/venv/bin:$PATH"\n')[1].split("# Installed and verified")[0].strip()
    # The vars differ by OS (gpu_verify_check_container_runtime): compare the steps, not the data.
    def steps(text: str) -> str:
        return text.replace(json.dumps(embedded_vars(text), sort_keys=True), "<vars>")

    assert steps(ubuntu).startswith(
        steps(head).replace(gate, "").replace("nodeadm-run.service starts", "/etc/eks/bootstrap.sh starts"))
    assert tail in ubuntu and "node-verified" not in ubuntu


def bootstrap_call(script: str) -> list[str]:
    """The shell words of the /etc/eks/bootstrap.sh call, as bash would split them."""
    call = script[script.index("\n/etc/eks/bootstrap.sh ") + 1 :]
    return shlex.split(call.replace("\\\n", " "))


def test_join_arguments_stay_one_shell_word_each():
    """Whatever the cluster's endpoint or CA hold, each reaches bootstrap.sh as one word, as data."""
    config = stack_config("prod")
    config["nodePools"][0].update(os="ubuntu-22.04", amiId="ami-01234567", labels={"team": "ml.infra_2"})
    pool = plan_of(config).pools[0]
    hostile = ClusterJoin("c1", "https://x' ; reboot ; echo '$(id)`id`", "Q==\nrm -rf /")
    words = bootstrap_call(boot_script(render_user_data(pool, "b", "k", hostile)))
    assert words == [
        "/etc/eks/bootstrap.sh", "c1",
        "--apiserver-endpoint", hostile.endpoint,
        "--b64-cluster-ca", hostile.certificate_authority,
        "--kubelet-extra-args", f"--register-with-taints={register_taints(pool.taints)} --node-labels={node_labels(pool.labels)}",
    ]
    assert "team=ml.infra_2" in words[-1]


def test_ubuntu_user_data_needs_the_cluster():
    plan = ubuntu_prod()
    with pytest.raises(ValueError, match="needs the cluster endpoint and CA"):
        render_user_data(plan.pool("inference-l4"), "b", "k")


def test_ubuntu_ansible_core_meets_the_roles_minimum():
    from packaging.version import Version

    for meta in (ROOT / "playbooks" / "roles").glob("*/meta/main.yml"):
        minimum = yaml.safe_load(meta.read_text())["galaxy_info"]["min_ansible_version"]
        assert Version(ANSIBLE_CORE_VERSION) >= Version(str(minimum)), meta


def test_ansible_vars_follow_the_spec():
    plan = plan_of(stack_config("prod"))
    assert dict(plan.pool("training-h100").ansible_vars) == {
        "gpufleet_install": True,
        "nvidia_driver_version": "570.133.20",
        "nvidia_driver_open_kernel_modules": True,
        "nvidia_driver_gpu_architecture": "Hopper",
        "nvidia_container_toolkit_version": "1.19.1",
        "nvidia_fabric_manager_enabled": True,
        "nvidia_fabric_manager_nvlsm": False,
        "nvidia_mig_devices": [],
        "instance_store_raid0": False,  # AL2023: nodeadm builds the array
        "aws_efa_install": True,
        "aws_efa_installer_version": "1.47.0",
        "aws_efa_installer_sha256": "2df4201e046833c7dc8160907bee7f52b76ff80ed147376a2d0ed8a0dd66b2db",
        "gpu_verify_expect_fabric": True,
        "gpu_verify_check_container_runtime": True,
        "gpu_verify_expected_efa_devices": 32,  # p5.48xlarge: 32 EFA interfaces, all attached
        "gpu_verify_expected_gpu_count": 8,
        "gpu_verify_expected_gpu_model": "H100",
    }
    config = stack_config("prod")
    config["drivers"]["install"] = "ami"
    plan = plan_of(config)
    vars_ = dict(plan.pool("batch-a10g").ansible_vars)
    assert vars_["gpufleet_install"] is False and vars_["nvidia_fabric_manager_enabled"] is False
    assert vars_["gpu_verify_expected_gpu_count"] == 4


# --- cloud-init's own schema validator ----------------------------------------------------


def cloud_init_schema(text: str, tmp_path) -> tuple[bool, str]:
    """Runs `cloud-init schema --config-file` (Debian's cloud-init package); fails, never skips, without it."""
    executable = shutil.which("cloud-init")
    if executable is None:
        pytest.fail("cloud-init is not installed: apt-get install -y cloud-init (its schema validator checks user data)")
    path = tmp_path / "user-data.cloud-config"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [executable, "schema", "--config-file", str(path)], capture_output=True, text=True, timeout=120
    )
    output = (result.stdout + result.stderr).strip()
    # Deprecated keys still pass (exit 0) but are reported: count them as failures too.
    return result.returncode == 0 and "deprecat" not in output.lower(), output


def rendered_cloud_configs() -> dict[str, str]:
    """Every cloud-config the example stacks render, and every prod pool on both Ubuntu releases."""
    documents = {}
    for stack in STACKS:
        for name, text in user_data_documents(stack_run(stack)).items():
            if name.endswith(".cloud-config"):
                documents[f"{stack}/{name}"] = text
    for release in ("ubuntu-22.04", "ubuntu-24.04"):
        plan = ubuntu_prod(release)
        for pool in plan.pools:
            documents[f"prod-{release}/{pool.name}"] = render_user_data(pool, "bucket-1", "playbooks/abc.zip", CLUSTER)
    return documents


def test_every_rendered_cloud_config_passes_the_cloud_init_schema(tmp_path):
    documents = rendered_cloud_configs()
    assert "staging/inference-l4-ubuntu.cloud-config" in documents
    failures = []
    for name, text in sorted(documents.items()):
        valid, output = cloud_init_schema(text, tmp_path)
        if not valid:
            failures.append(f"{name}: {output}")
    assert not failures, "\n".join(failures)


def test_the_schema_validator_rejects_a_broken_cloud_config(tmp_path):
    plan = ubuntu_prod()
    text = render_user_data(plan.pool("inference-l4"), "b", "k", CLUSTER)
    valid, output = cloud_init_schema(text.replace("runcmd:\n", "runcmd: 3\nbogus:\n"), tmp_path)
    assert not valid and "runcmd" in output
