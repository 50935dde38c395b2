"""`gpufleet pack`: the policy pack as a folder that needs nothing of this checkout.

    DIR/PulumiPolicy.yaml   the pack's manifest, with a virtualenv of its own (DIR/venv)
    DIR/requirements.txt    what the engine installs into that virtualenv
    DIR/__main__.py         the entry point the engine runs
    DIR/policies/           the policies
    DIR/core/               the pure core they judge with (facts, names, boot reader)

`pulumi preview --policy-pack DIR` and `pulumi policy publish DIR` take it as it is: the files are
those of the installed `policies` and `core` packages, so the pack judges with the same code and
facts as `gpufleet check`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

import core
import policies

# The pack's own virtualenv, made by the engine from requirements.txt (relative to the pack folder);
# `--virtualenv` names one that already has them.
PACK_VIRTUALENV = "venv"
# Files of the development pack (policies/) that stay at the root of the assembled one.
ROOT_FILES = ("__main__.py", "requirements.txt", "README.md")
# Per-stack policy config is the user's (--policy-pack-config, or a policy group's), not the pack's.
LEFT_OUT_DIRS = ("__pycache__", "config")


def _package_files(package) -> dict[str, str]:
    """Relative path -> text of every file of an installed package (sources, data, templates)."""
    root = Path(package.__file__).resolve().parent
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and path.suffix != ".pyc"
        and not any(part in LEFT_OUT_DIRS for part in path.relative_to(root).parts[:-1])
    }


def manifest(development_manifest: str, virtualenv: str) -> str:
    """The development pack's PulumiPolicy.yaml, with the pack's own virtualenv instead of the project's."""
    document = yaml.safe_load(development_manifest)
    document["runtime"]["options"]["virtualenv"] = virtualenv
    return yaml.safe_dump(document, sort_keys=False)


def pack_files(virtualenv: str = PACK_VIRTUALENV) -> dict[str, str]:
    """Relative path -> text of every file of the self-contained pack."""
    development = _package_files(policies)
    files = {name: development[name] for name in ROOT_FILES}
    files["PulumiPolicy.yaml"] = manifest(development["PulumiPolicy.yaml"], virtualenv)
    files.update({f"policies/{name}": text for name, text in development.items() if "/" not in name and name.endswith(".py")})
    files.update({f"core/{name}": text for name, text in _package_files(core).items()})
    return dict(sorted(files.items()))
