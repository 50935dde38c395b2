"""tools/build.sh caches each tool under a key of its own inputs: bumping one pin rebuilds only the tools that
read it, and adding a tool (a row, its recipe, its requirement in a shared module's go.mod) rebuilds none of the
others. Read from the real script (`--print-keys` computes the keys and builds nothing, but needs Go, as every
build does) on a copy of tools/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from fleet_fixtures import ROOT

def keys(tools_dir) -> dict[str, str]:
    printed = subprocess.run([str(tools_dir / "build.sh"), "--print-keys"], capture_output=True, text=True,
                             check=True, env={"PATH": os.environ["PATH"], "HOME": str(tools_dir)})
    return dict(line.split() for line in printed.stdout.splitlines())


@pytest.fixture
def tools(tmp_path):
    return shutil.copytree(ROOT / "tools", tmp_path / "tools")


def bump(tools_dir, var: str) -> None:
    env = tools_dir / "versions.env"
    text, count = re.subn(rf"^{var}=(.*)$", rf"{var}=\1-bumped", env.read_text(), flags=re.M)
    assert count == 1, var
    env.write_text(text)


def changed(before: dict, after: dict) -> set[str]:
    return {tool for tool in before if before[tool] != after[tool]} - {"bin"}


@pytest.mark.parametrize("var, rebuilt", [
    ("ETCD_VERSION", {"etcd"}),
    ("KWOK_VERSION", {"kwok"}),
    ("KUBERNETES_VERSION", {"kube", "kwok"}),  # not kueue or karpenter: their Kubernetes libraries are their module's
    ("PULUMI_VERSION", {"pulumi"}),
    ("KUEUE_VERSION", {"kueue"}),
    ("KARPENTER_VERSION", {"karpenter"}),  # not kueue, built in the same module
])
def test_a_pin_rebuilds_only_the_tools_that_read_it(tools, var, rebuilt):
    before = keys(tools)
    bump(tools, var)
    after = keys(tools)
    assert changed(before, after) == rebuilt
    assert before["bin"] != after["bin"]


def test_adding_a_tool_rebuilds_none_of_the_others(tools):
    before = keys(tools)
    script = tools / "build.sh"
    text = script.read_text()
    text = text.replace("\n'\nALL_TOOLS=()", "\nnewtool              kube                 newtool  KUBERNETES_VERSION\n'\nALL_TOOLS=()", 1)
    text = text.replace("\ntool_key() {", "\nbuild_newtool() { :; }\n\ntool_key() {", 1)
    script.write_text(text)
    with open(tools / "kube" / "go.mod", "a") as go_mod:  # the new tool's requirement in the shared module
        go_mod.write("\nrequire example.com/newtool v0.1.0\n")
    after = keys(tools)
    assert "newtool" in after
    assert {tool: after[tool] for tool in before if tool != "bin"} == {t: k for t, k in before.items() if t != "bin"}
