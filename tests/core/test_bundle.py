"""The playbook bundle's content hash: stable, content-only, and over exactly the files that are uploaded."""

from __future__ import annotations

import shutil

import pytest

from core.assets import playbooks_dir
from core.bundle import bundle_files, bundle_hash, bundle_key


@pytest.fixture
def bundle(tmp_path):
    copy = tmp_path / "playbooks"
    shutil.copytree(playbooks_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_bundle_hash_is_stable_and_follows_content(bundle, tmp_path):
    first = bundle_hash(bundle)
    assert first == bundle_hash(bundle)
    assert len(first) == 64 and set(first) <= set("0123456789abcdef")
    (bundle / "roles" / "gpu_verify" / "__pycache__").mkdir()
    (bundle / "roles" / "gpu_verify" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    assert bundle_hash(bundle) == first
    defaults = bundle / "roles" / "nvidia_driver" / "defaults" / "main.yml"
    defaults.write_text(defaults.read_text().replace("570.133.20", "570.172.08"))
    edited = bundle_hash(bundle)
    assert edited != first
    defaults.rename(defaults.with_name("other.yml"))
    assert bundle_hash(bundle) not in (first, edited)
    with pytest.raises(ValueError, match="not a directory"):
        bundle_hash(tmp_path / "missing")


def test_the_package_marker_is_neither_hashed_nor_bundled_but_ansible_python_is(bundle):
    """playbooks/__init__.py only makes the directory a Python package; a role's own Python (a module
    or filter plugin) is Ansible content and must roll the nodes when it changes."""
    first = bundle_hash(bundle)
    assert (bundle / "__init__.py").is_file()
    assert all(p.relative_to(bundle).as_posix() != "__init__.py" for p in bundle_files(bundle))
    (bundle / "__init__.py").write_text('"""edited"""\n')
    assert bundle_hash(bundle) == first
    plugin = bundle / "roles" / "gpu_verify" / "library" / "__init__.py"
    plugin.parent.mkdir()
    plugin.write_text("# a module\n")
    assert plugin in bundle_files(bundle) and bundle_hash(bundle) != first


def test_documentation_is_not_bundled(bundle):
    first = bundle_hash(bundle)
    readme = bundle / "README.md"
    readme.write_text(readme.read_text() + "\nA typo fixed.\n")
    (bundle / "roles" / "gpu_verify" / "README.md").write_text("# gpu_verify\n")
    assert bundle_hash(bundle) == first
    assert not [p for p in bundle_files(bundle) if p.suffix == ".md"]


def test_bundle_key_carries_the_hash():
    assert bundle_key("ab" * 32) == f"playbooks/{'ab' * 8}.zip"
