"""container-toolkit-patched: the toolkit nodes install has every known container escape fixed.

The fixed releases are NVIDIA's security bulletins for the Container Toolkit (a_id 5582: CVE-2024-0132
fixed in 1.16.2; 5616: CVE-2025-23359 in 1.17.4; 5659: CVE-2025-23266/23267 in 1.17.8; 5850:
CVE-2026-24260 in 1.19.1), kept in core/data/gpu-facts.yaml.
"""

import base64
import json

import pytest
from packaging.version import Version
from policy_fixtures import edited, launch_template, messages

from core.facts import load_facts

POLICY = "container-toolkit-patched"


def with_toolkit(version, install=True):
    text = "MIME-Version: 1.0\n\n#!/bin/bash\ncat > vars.json <<'EOF'\n" + json.dumps(
        {"gpufleet_install": install, "nvidia_driver_version": "570.133.20",
         "nvidia_container_toolkit_version": version}) + "\nEOF\n"
    return edited(launch_template(), ("userData",), base64.b64encode(text.encode()).decode())


@pytest.mark.parametrize("version, open_cves", [
    ("1.16.1", {"CVE-2024-0132", "CVE-2025-23266", "CVE-2026-24260"}),
    ("1.17.4", {"CVE-2025-23266", "CVE-2025-23267", "CVE-2026-24260"}),
    ("1.17.8", {"CVE-2026-24260"}),
    ("1.18.2", {"CVE-2026-24260"}),
])
def test_vulnerable_releases_fail_and_name_the_cves(version, open_cves):
    [message] = messages(POLICY, with_toolkit(version))
    assert all(cve in message for cve in open_cves), message
    assert "1.19.1 or later" in message and "a_id/5850" in message


@pytest.mark.parametrize("version", ["1.19.1", "1.20.0"])
def test_fixed_releases_pass(version):
    assert messages(POLICY, with_toolkit(version)) == []


def test_user_data_without_a_toolkit_is_not_judged():
    assert messages(POLICY, launch_template()) == []


def test_an_image_that_ships_its_own_toolkit_is_not_judged_here():
    """drivers.install ami: the playbook installs no toolkit; the image's release notes are the source."""
    assert messages(POLICY, with_toolkit("1.17.4", install=False)) == []
    assert messages(POLICY, with_toolkit("1.17.4", install=True))


def test_the_default_toolkit_has_no_open_advisory():
    facts = load_facts()
    assert facts.toolkit_advisories_open(Version(facts.software.container_toolkit_version)) == ()
