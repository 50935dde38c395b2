"""A node that fails its install or verification never joins, and leaves its group.

Upstream: nodeadm-run.service starts containerd and the kubelet once cloud-final is done, whatever
the user data's script did (awslabs/amazon-eks-ami, tag v20260724,
templates/al2023/runtime/rootfs/etc/systemd/system/nodeadm-run.service: After=nodeadm-config.service
cloud-final.service, no Requires= on it). An Auto Scaling group replaces an instance whose state is
anything but running (EC2 Auto Scaling user guide, "Health checks for instances in an Auto Scaling
group", Amazon EC2 status checks). So the script gates nodeadm-run with a drop-in before anything
can fail (nodeadm-run fails without the verified marker and then powers the node off), and powers
the node off itself when one of its steps fails.

The rendered script runs here for real (bash), in a private mount namespace with tmpfs over the
paths it writes, and with stubs for what only a node has (IMDS, S3, dnf, Ansible, systemctl). Its
drop-in is checked with systemd-analyze verify against the upstream unit's [Unit] section.
"""

from __future__ import annotations

import email
import os
import shlex
import shutil
import subprocess
import textwrap

import pytest
from fleet_fixtures import plan_of, stack_config

from core.boot import NODEADM_RUN_DROP_IN, NODEADM_RUN_GATE, VERIFIED_MARKER, render_user_data

# nodeadm-run.service's [Unit] section as upstream writes it; ExecStart stands in for /usr/bin/nodeadm,
# which systemd-analyze would otherwise report as missing on this machine.
NODEADM_RUN_UNIT = textwrap.dedent("""\
    [Unit]
    Description=EKS Nodeadm Run
    Documentation=https://github.com/awslabs/amazon-eks-ami
    After=nodeadm-config.service cloud-final.service
    Requires=nodeadm-config.service

    [Service]
    Type=oneshot
    ExecStart=/usr/bin/true

    [Install]
    WantedBy=multi-user.target
""")
NODEADM_CONFIG_UNIT = textwrap.dedent("""\
    [Unit]
    Description=EKS Nodeadm Config
    Before=cloud-init.service
    After=systemd-networkd-wait-online.service

    [Service]
    Type=oneshot
    ExecStart=/usr/bin/true

    [Install]
    WantedBy=multi-user.target
""")

STUBS = {
    # IMDS: a token, then the instance type.
    "curl": 'case "$*" in *api/token*) echo token ;; *) echo "$GPUFLEET_TEST_INSTANCE_TYPE" ;; esac',
    # The bundle: an empty zip where the script asks for it.
    "aws": '[ -z "$GPUFLEET_TEST_FAIL_S3" ] || exit 1\n'
           'python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1], \'w\').close()" "$4"',
    "dnf": "exit 0",
    "python3.11": 'mkdir -p "$3/bin" && printf "#!/bin/sh\\nexit 0\\n" > "$3/bin/pip" && chmod +x "$3/bin/pip"',
    "ansible-playbook": 'exit "${GPUFLEET_TEST_PLAYBOOK_EXIT:-0}"',
    "systemctl": 'echo "$*" >> /var/log/systemctl-calls',
}


def nodeadm_script(pool_index: int = 0) -> tuple[str, str]:
    pool = plan_of(stack_config("dev")).pools[pool_index]
    message = email.message_from_string(render_user_data(pool, "bucket", "playbooks/x.zip"))
    [script] = [p.get_payload() for p in message.get_payload() if p.get_content_type() == "text/x-shellscript"]
    return script, pool.catalog[0].name


def run_boot(tmp_path, **env) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Runs the rendered script; returns its result and what it left in the paths it writes."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to run the boot script in a private mount namespace")
    script, instance_type = nodeadm_script()
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, body in STUBS.items():
        (stubs / name).write_text(f"#!/bin/bash\n{body}\n")
        (stubs / name).chmod(0o755)
    (tmp_path / "boot.sh").write_text(script)
    (tmp_path / "console").write_text("")
    collected = tmp_path / "collected"
    # tmpfs over every path the script writes; afterwards copy them out for the test to read.
    inner = f"""
        set -u
        for d in /etc/systemd/system /var/lib /opt /var/log; do mount -t tmpfs tmpfs "$d"; done
        mount --bind {shlex.quote(str(tmp_path / 'console'))} /dev/console
        bash {shlex.quote(str(tmp_path / 'boot.sh'))}
        status=$?
        mkdir -p {shlex.quote(str(collected))}
        cp -a /etc/systemd/system /var/lib /var/log {shlex.quote(str(collected))}/ 2>/dev/null
        exit $status
    """
    result = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "bash", "-c", inner],
        env={"PATH": f"{stubs}:{os.environ['PATH']}", "GPUFLEET_TEST_INSTANCE_TYPE": instance_type, **env},
        capture_output=True, text=True, timeout=60,
    )
    left = {
        str(path.relative_to(collected)): path.read_text(errors="replace")
        for path in collected.rglob("*") if path.is_file()
    }
    return result, left


def test_a_verified_node_opens_the_gate(tmp_path):
    result, left = run_boot(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert left[f"system/nodeadm-run.service.d/{NODEADM_RUN_DROP_IN.rsplit('/', 1)[1]}"] == NODEADM_RUN_GATE
    assert f"lib/{VERIFIED_MARKER.removeprefix('/var/lib/')}" in left
    assert left["log/systemctl-calls"].splitlines() == ["daemon-reload"]


@pytest.mark.parametrize("env", [{"GPUFLEET_TEST_PLAYBOOK_EXIT": "2"}, {"GPUFLEET_TEST_FAIL_S3": "1"}],
                         ids=["verification-fails", "bundle-download-fails"])
def test_a_failed_node_keeps_the_gate_shut_and_powers_off(tmp_path, env):
    result, left = run_boot(tmp_path, **env)
    assert result.returncode != 0
    assert f"lib/{VERIFIED_MARKER.removeprefix('/var/lib/')}" not in left, "a failed node was marked verified"
    assert f"system/nodeadm-run.service.d/{NODEADM_RUN_DROP_IN.rsplit('/', 1)[1]}" in left
    assert left["log/systemctl-calls"].splitlines() == ["daemon-reload", "poweroff --no-block"]
    assert "this node will not join" in left["log/gpufleet-bootstrap.log"]


def _verify(units, drop_in_text: str) -> subprocess.CompletedProcess:
    (units / "nodeadm-run.service").write_text(NODEADM_RUN_UNIT)
    (units / "nodeadm-config.service").write_text(NODEADM_CONFIG_UNIT)
    drop_ins = units / "nodeadm-run.service.d"
    drop_ins.mkdir(exist_ok=True)
    (drop_ins / NODEADM_RUN_DROP_IN.rsplit("/", 1)[1]).write_text(drop_in_text)
    return subprocess.run(
        ["systemd-analyze", "verify", str(units / "nodeadm-run.service")],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"}, capture_output=True, text=True, timeout=60,
    )


def test_systemd_accepts_the_drop_in(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze (systemd) is needed to verify the unit files the user data writes")
    result = _verify(tmp_path, NODEADM_RUN_GATE)
    assert result.returncode == 0 and "10-gpufleet" not in result.stdout + result.stderr, result.stderr
    # The same check sees a broken drop-in: it reads ours.
    broken = _verify(tmp_path, NODEADM_RUN_GATE.replace("OnFailureJobMode=", "OnFailureJobMod="))
    assert "10-gpufleet-verified.conf" in broken.stderr and "Unknown key" in broken.stderr


def test_without_the_marker_the_gate_fails_and_with_it_passes(tmp_path):
    """The drop-in's own ExecStartPre, run as systemd would run it."""
    line = next(l for l in NODEADM_RUN_GATE.splitlines() if l.startswith("ExecStartPre="))
    argv = line.removeprefix("ExecStartPre=").split()
    assert argv[-1] == VERIFIED_MARKER
    marker = tmp_path / "node-verified"
    assert subprocess.run([*argv[:-1], str(marker)]).returncode != 0
    marker.write_text("")
    assert subprocess.run([*argv[:-1], str(marker)]).returncode == 0
