"""The AnsibleRun dynamic provider, called directly, running a real playbook
through ansible-runner against local-connection hosts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from components.hosts.ansible_run import AnsibleRunError, AnsibleRunProvider, normalize_inventory, recap_from_stats
from core.assets import playbooks_dir
from core.bundle import bundle_hash

PLAY = Path(__file__).resolve().parent / "fixtures" / "provider" / "play.yml"
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def _props(tmp_path, **overrides):
    (tmp_path / "out").mkdir(exist_ok=True)
    return {
        "inventory": [{"name": "gpu-a", **LOCAL}, {"name": "gpu-b", **LOCAL}],
        "extra_vars": {"marker_dir": str(tmp_path / "out"), "marker_text": "v1"},
        "playbook": str(PLAY),
        "bundle_hash": bundle_hash(PLAY.parent),
        **overrides,
    }


def test_inventory_forms():
    assert normalize_inventory(["10.0.1.17", {"name": "gpu-b", "ansible_user": "ubuntu"}]) == {
        "all": {"hosts": {"10.0.1.17": {}, "gpu-b": {"ansible_user": "ubuntu"}}}}
    raw = {"all": {"hosts": {"h": {"ansible_host": "10.0.0.1"}}, "vars": {"ansible_become": True}}}
    assert normalize_inventory(raw) == raw
    with pytest.raises(ValueError, match=r"inventory\[1\]"):
        normalize_inventory(["a", 3])
    with pytest.raises(ValueError, match="no hosts"):
        normalize_inventory([])


def test_recap_from_stats():
    stats = {"ok": {"a": 3}, "changed": {"a": 1}, "failures": {"b": 1}, "dark": {"c": 1}, "skipped": {}}
    assert recap_from_stats(stats, ["a", "b", "c", "d"]) == {
        "a": {"ok": 3, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 0},
        "b": {"ok": 0, "changed": 0, "failed": 1, "unreachable": 0, "skipped": 0},
        "c": {"ok": 0, "changed": 0, "failed": 0, "unreachable": 1, "skipped": 0},
        "d": {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0},
    }


def test_create_diff_update(tmp_path):
    provider = AnsibleRunProvider()
    props = _props(tmp_path)

    created = provider.create(props)
    assert created.id.startswith("ansible-run-")
    assert created.outs["rc"] == 0
    assert created.outs["recap"]["gpu-a"] == {"ok": 1, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 1}
    assert created.outs["recap"]["gpu-b"]["changed"] == 1
    assert (tmp_path / "out" / "gpu-a.txt").read_text() == "v1\n"
    olds = created.outs

    # Same inputs: no change, so no run.
    same = provider.diff(created.id, olds, _props(tmp_path))
    assert same.changes is False and not same.replaces

    # Each trigger alone is an in-place update, never a replacement.
    for key, value in {
        "bundle_hash": "0" * 64,
        "extra_vars": {"marker_dir": str(tmp_path / "out"), "marker_text": "v2"},
        "inventory": [{"name": "gpu-a", **LOCAL}],
        "playbook": str(playbooks_dir() / "site.yml"),
    }.items():
        d = provider.diff(created.id, olds, {**_props(tmp_path), key: value})
        assert d.changes is True, key
        assert not d.replaces, key

    # Update re-runs: unchanged vars give changed=0, new vars rewrite the file.
    rerun = provider.update(created.id, olds, _props(tmp_path))
    assert rerun.outs["recap"]["gpu-a"]["changed"] == 0
    assert rerun.outs["recap"]["gpu-a"]["ok"] == 1
    updated = provider.update(created.id, olds, _props(
        tmp_path, extra_vars={"marker_dir": str(tmp_path / "out"), "marker_text": "v2"}))
    assert updated.outs["recap"]["gpu-b"]["changed"] == 1
    assert updated.outs["extra_vars"]["marker_text"] == "v2"
    assert (tmp_path / "out" / "gpu-b.txt").read_text() == "v2\n"


def test_failed_run_raises_with_the_recap(tmp_path):
    props = _props(tmp_path, extra_vars={
        "marker_dir": str(tmp_path / "out"), "marker_text": "v1", "fail_now": True})
    with pytest.raises(AnsibleRunError) as err:
        AnsibleRunProvider().create(props)
    text = str(err.value)
    assert "failed (rc=2" in text
    assert "gpu-a: Fail when asked to.: asked to fail on gpu-a" in text
    assert "gpu-b: ok=1 changed=1 failed=1 unreachable=0 skipped=0" in text


def test_unreachable_host_raises(tmp_path):
    props = _props(tmp_path, inventory=[{
        "name": "gone", "ansible_host": "127.0.0.1", "ansible_port": 1,
        "ansible_connection": "ssh", "ansible_ssh_common_args": "-o ConnectTimeout=2 -o StrictHostKeyChecking=no"}])
    with pytest.raises(AnsibleRunError, match="gone: ok=0 changed=0 failed=0 unreachable=1"):
        AnsibleRunProvider().create(props)


def test_missing_playbook_is_an_error(tmp_path):
    with pytest.raises(AnsibleRunError, match="does not exist"):
        AnsibleRunProvider().create(_props(tmp_path, playbook=str(tmp_path / "nope.yml")))
