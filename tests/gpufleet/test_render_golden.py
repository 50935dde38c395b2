"""Golden files: every artifact `gpufleet render` writes, per example stack, diffed, and the
sorted URN list of every resource (urns.txt): a URN change replaces resources on `pulumi up`.

Regenerate after an intended change with:  GPUFLEET_UPDATE_GOLDEN=1 pytest tests/gpufleet/test_render_golden.py
"""

from __future__ import annotations

import difflib
import hashlib
import os
from pathlib import Path

import pytest
from fleet_fixtures import STACKS, stack_run

from gpufleet.render import render_artifacts

GOLDEN = Path(__file__).resolve().parent / "golden"
URN_LIST = "urns.txt"
# CRDs are kept as digests: they are the vendored files (components/kubernetes/vendor/kueue, checked by their own
# tests) plus a conversion stanza, 1.6 MB that a second copy would only duplicate; a change still fails here.
CRD_PREFIX = "kubernetes/CustomResourceDefinition."
CRD_DIGESTS = "crd-digests.txt"
UPDATE = os.environ.get("GPUFLEET_UPDATE_GOLDEN") == "1"


def _existing(directory) -> dict[str, str]:
    if not directory.exists():
        return {}
    return {
        path.relative_to(directory).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _write(directory, files: dict[str, str]) -> None:
    for relative in _existing(directory):
        if relative not in files:
            (directory / relative).unlink()
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def golden_diff(expected: dict[str, str], actual: dict[str, str]) -> str:
    """A unified diff over all files; empty when they are identical."""
    chunks = []
    for relative in sorted(set(expected) | set(actual)):
        before, after = expected.get(relative), actual.get(relative)
        if before == after:
            continue
        chunks.extend(
            difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (after or "").splitlines(keepends=True),
                fromfile=f"golden/{relative}" if before is not None else "/dev/null",
                tofile=f"rendered/{relative}" if after is not None else "/dev/null",
            )
        )
    return "".join(chunks)


def golden_files(run) -> dict[str, str]:
    """What the golden directory of a run holds: every rendered artifact (CRDs as digests) and the URN list."""
    files = render_artifacts(run)
    crds = {k: files.pop(k) for k in [k for k in files if k.startswith(CRD_PREFIX)]}
    if crds:
        files[CRD_DIGESTS] = "".join(
            f"{hashlib.sha256(text.encode()).hexdigest()}  {name.removeprefix(CRD_PREFIX)}\n" for name, text in sorted(crds.items())
        )
    return {**files, URN_LIST: "".join(f"{urn}\n" for urn in run.engine_urns())}


@pytest.mark.parametrize("stack", STACKS)
def test_render_matches_golden(stack):
    directory = GOLDEN / stack
    run = stack_run(stack)
    actual = golden_files(run)
    if UPDATE:
        _write(directory, actual)
    diff = golden_diff(_existing(directory), actual)
    assert not diff, (
        f"rendered artifacts of stack '{stack}' differ from tests/gpufleet/golden/{stack} "
        f"(GPUFLEET_UPDATE_GOLDEN=1 to accept):\n{diff}"
    )


def test_golden_diff_reports_changes():
    assert golden_diff({"a.yaml": "x: 1\n"}, {"a.yaml": "x: 1\n"}) == ""
    diff = golden_diff({"a.yaml": "x: 1\n", "gone.yaml": "y\n"}, {"a.yaml": "x: 2\n", "new.yaml": "z\n"})
    assert "-x: 1" in diff and "+x: 2" in diff
    assert "golden/gone.yaml" in diff and "rendered/new.yaml" in diff


def test_manifests_keep_integers_and_fractions():
    from gpufleet.render import manifest_documents

    documents = manifest_documents(stack_run("prod"))
    assert documents["PriorityClass._cluster.gpufleet-critical.yaml"]["value"] == 1_000_000
    assert isinstance(documents["PriorityClass._cluster.gpufleet-critical.yaml"]["value"], int)
    service = documents["Service.gpu-system.dcgm-exporter.yaml"]
    assert service["spec"]["ports"][0]["port"] == 9400 and isinstance(service["spec"]["ports"][0]["port"], int)
    rules = documents["PrometheusRule.gpu-system.gpufleet-gpu-alerts.yaml"]["spec"]["groups"]
    assert any("> 0.95" in r["expr"] for g in rules for r in g["rules"])
