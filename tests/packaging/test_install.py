"""A plain (non-editable) install works from any directory: templates, facts, playbooks and the
policy pack are found through the installed packages, not the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv

import pytest
from fleet_fixtures import ROOT, stack_config, write_stack_file

NOT_SOURCE = (".git", ".venv", ".state", "build", "dist", "out", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """gpu-fleet built as a wheel and installed into a fresh virtualenv; its dependencies come from the
    test environment's site-packages (a path entry: the checkout's editable hook is not loaded there)."""
    base = tmp_path_factory.mktemp("install")
    # A copy without build outputs: setuptools would reuse a stale build/ of the checkout.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheels = base / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    [wheel] = wheels.glob("gpu_fleet-*.whl")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (base / "venv" / site.removeprefix(str(env_dir) + "/") / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=600)
    return env_dir


def run(env_dir, *args, cwd):
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([env_dir / "bin" / "gpufleet", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=environment)


def test_the_installed_package_is_used_not_the_checkout(installed, tmp_path):
    probe = subprocess.run(
        [installed / "bin" / "python", "-c", "import core, policies, playbooks; from core import assets; "
         "print(core.__file__); print(assets.playbooks_dir()); print(assets.FACTS_FILE.is_file())"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    core_file, playbooks_dir, facts = probe.stdout.split()
    assert core_file.startswith(str(installed)) and playbooks_dir.startswith(str(installed)), probe.stdout
    assert facts == "True"


def test_plan_check_and_render_from_another_directory(installed, tmp_path):
    config = write_stack_file(tmp_path / "Pulumi.mine.yaml", stack_config("prod"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    plan = run(installed, "plan", "--config", str(config), "--format", "json", cwd=elsewhere)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["resources"] > 100
    check = run(installed, "check", "--config", str(config), cwd=elsewhere)
    assert check.returncode == 0, check.stdout + check.stderr
    out = tmp_path / "out"
    render = run(installed, "render", "--config", str(config), "--out", str(out), cwd=elsewhere)
    assert render.returncode == 0, render.stderr
    user_data = (out / "user-data" / "inference-l4.mime").read_text()
    assert "ansible-playbook" in user_data and "playbooks/" in user_data  # templates and the bundle key
    golden = ROOT / "tests" / "gpufleet" / "golden" / "prod" / "user-data" / "inference-l4.mime"
    assert user_data == golden.read_text()  # same bundle hash as the checkout's playbooks
