"""The playbooks pass ansible-lint (production profile) and a syntax check."""

from __future__ import annotations

import os
import re
import subprocess

import yaml
from playbook_helpers import PLAYBOOKS, REPO, SITE, VENV_BIN

ROLES = ["instance_store", "nvidia_driver", "nvidia_container_toolkit", "nvidia_fabric_manager", "aws_efa", "nvidia_mig",
         "gpu_verify"]


def _env(tmp_path):
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_LINT_OFFLINE": "1",
        "NO_COLOR": "1",
    }


def test_ansible_lint_production_profile_passes(tmp_path):
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor", "playbooks/"],
        cwd=REPO,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Profile 'production' was required, and it passed" in out, out
    # The roles were linted, not silently skipped.
    assert re.search(r"0 failure\(s\), 0 warning\(s\) in (\d+) files", out), out
    files = int(re.search(r"in (\d+) files processed", out).group(1))
    assert files >= 30, out


def test_syntax_check_passes(tmp_path):
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(SITE)],
        cwd=PLAYBOOKS,
        env={**_env(tmp_path), "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "playbook: " in proc.stdout


def test_site_applies_the_roles_in_order():
    play = yaml.safe_load(SITE.read_text())[0]
    assert [r["role"] for r in play["roles"]] == ROLES
    for role in play["roles"]:
        assert role["role"] in role["tags"]
    assert "verify" in play["roles"][-1]["tags"]
    assert "when" not in play["roles"][-1], "gpu_verify must run in every mode"


def test_every_default_is_prefixed_with_its_role_name():
    for role in ROLES:
        defaults = yaml.safe_load((PLAYBOOKS / "roles" / role / "defaults" / "main.yml").read_text())
        assert defaults, role
        assert [k for k in defaults if not k.startswith(role + "_")] == [], role


def test_readme_variables_section_is_the_defaults_verbatim():
    readme = (PLAYBOOKS / "README.md").read_text()
    for role in ROLES:
        text = (PLAYBOOKS / "roles" / role / "defaults" / "main.yml").read_text()
        body = text.removeprefix("---\n")
        assert body in readme, f"README.md does not carry roles/{role}/defaults/main.yml verbatim"
