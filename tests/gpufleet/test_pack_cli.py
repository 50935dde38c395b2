"""`gpufleet pack`: a policy pack folder that needs nothing of the checkout, with requirements that
cover what it imports (pulumi's Python policy host runs `runpy.run_path(<pack folder>)`, which puts
the folder first on sys.path: pulumi/policy/__main__.py of the pinned SDK)."""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import yaml
from fleet_fixtures import ROOT

import policies


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def _requirements(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_normal(name)] = version
    return pins


def _project_pins() -> dict[str, str]:
    document = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(dependency.split("==") for dependency in document["project"]["dependencies"])


def _third_party_imports(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    local = {"core", "policies"}
    return {module for module in found if module not in sys.stdlib_module_names and module not in local}


def test_pack_writes_a_self_contained_folder(gpufleet, tmp_path):
    out = tmp_path / "pack"
    result = gpufleet("pack", "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load((out / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["options"]["virtualenv"] == "venv"
    assert (out / "core" / "data" / "gpu-facts.yaml").is_file()
    assert (out / "core" / "templates" / "node-userdata.mime.j2").is_file()
    assert not list(out.rglob("__pycache__")) and not (out / "policies" / "config").exists()

    # Only the pack folder, the standard library and the libraries: no site processing (-S), so the
    # checkout's editable install is not on the path, nor is the working directory.
    purelib = sysconfig.get_paths()["purelib"]
    probe = (
        "import sys; sys.path[:] = [sys.argv[1], *(p for p in sys.path if p), sys.argv[2]]\n"
        "import core, policies\n"
        "assert core.__file__.startswith(sys.argv[1]), core.__file__\n"
        "try:\n    import components\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('the checkout leaked in')\n"
        "print(len(policies.ALL))\n"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(out), purelib], capture_output=True, text=True, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == len(policies.ALL)


def test_pack_refuses_a_non_empty_folder_and_names_the_option(gpufleet, tmp_path):
    (tmp_path / "old.txt").write_text("x")
    result = gpufleet("pack", "--out", str(tmp_path))
    assert result.returncode == 2 and "--clean" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]


def test_requirements_cover_the_imports_and_agree_with_the_project(gpufleet, tmp_path):
    out = tmp_path / "pack"
    assert gpufleet("pack", "--out", str(out)).returncode == 0
    pins = _requirements(out / "requirements.txt")
    distributions = packages_distributions()
    imported = {_normal(distributions[module][0]) for module in _third_party_imports(out)}
    assert imported, "the scan found no imports"
    assert imported <= set(pins), imported - set(pins)
    project = {_normal(name): version for name, version in _project_pins().items()}
    assert {name: project.get(name) for name in pins} == pins
