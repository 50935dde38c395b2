"""The playbook bundle's content hash and object key. Pure.

The object key carries the hash, so a change to any playbook changes every launch template that
points at it and the node groups roll.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

from .assets import playbooks_dir

_SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache"}
# Documentation is not content nodes run: editing it must not roll every node group.
_SKIP_SUFFIXES = (".pyc", ".retry", ".md")
# What makes playbooks/ a Python package (core.assets): no Ansible content, not bundled.
_PACKAGE_MARKER = Path("__init__.py")


def bundle_files(root: Optional[Path] = None) -> list[Path]:
    """The files of the bundle (of the installed playbooks by default), sorted: what is hashed and
    exactly what is uploaded."""
    root = root or playbooks_dir()
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not _SKIP_DIRS.intersection(p.relative_to(root).parts)
        and not p.name.endswith(_SKIP_SUFFIXES)
        and p.relative_to(root) != _PACKAGE_MARKER
    )


def bundle_hash(root: str | Path | None = None) -> str:
    """sha256 over length-prefixed relative paths and contents: no clock, no mtime, so it is
    stable across machines and checkouts and changes when any file is added, renamed or edited."""
    root = Path(root) if root is not None else playbooks_dir()
    if not root.is_dir():
        raise ValueError(f"bundle_hash: {str(root)!r} is not a directory")
    digest = hashlib.sha256()
    for path in bundle_files(root):
        for chunk in (path.relative_to(root).as_posix().encode(), path.read_bytes()):
            digest.update(len(chunk).to_bytes(8, "big") + chunk)
    return digest.hexdigest()


def bundle_key(digest: str) -> str:
    return f"playbooks/{digest[:16]}.zip"  # the provider uploads a FileArchive as a zip
