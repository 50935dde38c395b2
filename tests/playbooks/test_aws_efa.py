"""The aws_efa role and the EFA check of gpu_verify.

Upstream (EC2 user guide, "Get started with EFA" and "Verify the EFA installer using a checksum"): the installer
is https://efa-installer.amazonaws.com/aws-efa-installer-<version>.tar.gz, AWS publishes each release's SHA256
and says not to run the script when it differs, the tarball unpacks to aws-efa-installer/ and is installed
with `./efa_installer.sh -y`; `fi_info -p efa -t FI_EP_RDM` then lists one "provider: efa" endpoint per EFA
device, each with its "domain: <device>-rdm" (fi_info outputs captured in fixtures/fi_info). The role runs for
real against a local HTTP server that serves a tarball of the same layout, whose script records its arguments.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading

import pytest
from playbook_helpers import FIXTURES, RUNTIME_IN_USE, run_site, smi

VERSION, NEXT = "1.47.0", "1.48.0"


def installer(version: str) -> bytes:
    """A script that records which release ran with which arguments, in the work directory."""
    return f'#!/bin/sh\necho "{version} $@" >> "$(dirname "$0")/../../installer-runs.log"\n'.encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """127.0.0.1 serving aws-efa-installer-<version>.tar.gz of two releases; yields (url, {version: sha256})."""
    root = tmp_path_factory.mktemp("efa-server")
    sums = {}
    for version in (VERSION, NEXT):
        buffer, script = io.BytesIO(), installer(version)
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo("aws-efa-installer/efa_installer.sh")
            info.size, info.mode = len(script), 0o755
            tar.addfile(info, io.BytesIO(script))
        (root / f"aws-efa-installer-{version}.tar.gz").write_bytes(buffer.getvalue())
        sums[version] = hashlib.sha256(buffer.getvalue()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", sums
    httpd.shutdown()


def install(tmp_path, server, sha256=None, version=VERSION, check=False):
    url, sums = server
    work = tmp_path / "efa"
    # The live path (gpufleet_root "/"), confined to a work directory of the test's: the only system change
    # the role makes is running the installer, which here is the recording script.
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "amazon-2023"}, tags="aws_efa", check=check,
                   extravars={"gpufleet_root": "/", "aws_efa_install": True, "aws_efa_installer_version": version,
                              "aws_efa_installer_sha256": sha256 or sums[version], "aws_efa_work_dir": str(work),
                              "aws_efa_installer_url": f"{url}/aws-efa-installer-{version}.tar.gz"})
    return run, work


def test_the_pinned_installer_runs_once_when_its_checksum_matches(tmp_path, server):
    run, work = install(tmp_path, server)
    assert run.rc == 0, run.stdout
    assert (work / "installer-runs.log").read_text() == f"{VERSION} -y\n"
    assert (work / f"installed-{VERSION}").read_text() == f"{VERSION}\n"
    again, _ = install(tmp_path, server)
    assert again.rc == 0 and again.count("changed", "node") == 0, again.stdout
    assert (work / "installer-runs.log").read_text() == f"{VERSION} -y\n"  # not run twice


def test_a_new_release_runs_its_own_installer(tmp_path, server):
    assert install(tmp_path, server)[0].rc == 0
    run, work = install(tmp_path, server, version=NEXT)
    assert run.rc == 0, run.stdout
    assert (work / "installer-runs.log").read_text() == f"{VERSION} -y\n{NEXT} -y\n"


def test_check_mode_on_a_fresh_node_downloads_and_runs_nothing(tmp_path, server):
    run, work = install(tmp_path, server, check=True)
    assert run.rc == 0, run.stdout
    assert not (work / "installer-runs.log").exists()


def test_a_tarball_with_another_checksum_is_never_run(tmp_path, server):
    run, work = install(tmp_path, server, "0" * 64)
    assert run.rc != 0
    assert any("checksum" in message.lower() for _, message in run.failures("node")), run.failures("node")
    assert not (work / "installer-runs.log").exists()


def test_no_efa_no_install(tmp_path):
    run = run_site(tmp_path / "w", {"node": {}}, facts={"node": "amazon-2023"}, tags="aws_efa",
                   extravars={"gpufleet_root": "/", "aws_efa_work_dir": str(tmp_path / "efa")})
    assert run.rc == 0 and not (tmp_path / "efa").exists()


VERIFY = {**RUNTIME_IN_USE, "gpufleet_install": False, "nvidia_driver_version": "570.133.20",
          "gpu_verify_nvidia_smi_command": smi("p5.48xlarge-h100.csv"), "gpu_verify_expected_gpu_count": 8}


@pytest.mark.parametrize("listing, ok", [("p4d.24xlarge-4-devices.txt", True), ("p4d.24xlarge-3-devices.txt", False)])
def test_gpu_verify_counts_the_efa_devices_libfabric_shows(tmp_path, listing, ok):
    run = run_site(tmp_path / "w", {"node": {}}, tags="gpu_verify",
                   extravars={**VERIFY, "gpu_verify_expected_efa_devices": 4,
                              "gpu_verify_efa_command": f"cat {FIXTURES / 'fi_info' / listing}"})
    assert (run.rc == 0) is ok, run.stdout
    if not ok:
        assert any("EFA devices mismatch: expected 4" in m and "found 3" in m for _, m in run.failures("node"))


def test_gpu_verify_fails_a_node_without_libfabric(tmp_path):
    run = run_site(tmp_path / "w", {"node": {}}, tags="gpu_verify",
                   extravars={**VERIFY, "gpu_verify_expected_efa_devices": 4,
                              "gpu_verify_efa_command": str(tmp_path / "no-such-fi_info")})
    assert run.rc != 0
    assert any("EFA devices mismatch" in m for _, m in run.failures("node")), run.failures("node")
