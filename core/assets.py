"""Where the files gpu-fleet ships beside its code are: found through the installed packages.

`importlib.resources` resolves them the same way in a checkout, an editable install and a plain
`pip install .`, so the CLI works from any directory. pip installs packages unpacked, so each
resolves to a real directory that Ansible, Jinja and the Pulumi engine can read.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_dir(package: str) -> Path:
    return Path(str(files(package)))


FACTS_FILE = package_dir("core") / "data" / "gpu-facts.yaml"
TEMPLATES_DIR = package_dir("core") / "templates"


def playbooks_dir() -> Path:
    """Looked up when asked: the policy pack ships core without the playbooks (gpufleet pack)."""
    return package_dir("playbooks")
