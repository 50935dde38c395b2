"""cluster.awaitWorkloads: the engine's readiness wait for the fleet's DaemonSets, a pure decision."""

from __future__ import annotations

import pytest
from fleet_fixtures import spec_of, stack_config, stack_run

from components.kubernetes.meta import SKIP_AWAIT_ANNOTATION, workload_annotations
from core.spec_loader import SpecError


def test_default_awaits_workloads():
    config = stack_config("local")
    config["cluster"].pop("awaitWorkloads", None)
    spec = spec_of(config)
    assert spec.cluster.await_workloads is True
    assert workload_annotations(spec.cluster.await_workloads) == {}


def test_false_skips_the_await():
    config = stack_config("local")
    config["cluster"]["awaitWorkloads"] = False
    assert workload_annotations(spec_of(config).cluster.await_workloads) == {SKIP_AWAIT_ANNOTATION: "true"}


def test_not_a_boolean_is_rejected():
    config = stack_config("local")
    config["cluster"]["awaitWorkloads"] = "sometimes"
    with pytest.raises((SpecError, ValueError)):
        spec_of(config)


@pytest.mark.parametrize("stack, annotated", [("local", True), ("prod", False)])
def test_daemonsets_carry_the_annotation_only_where_asked(stack, annotated):
    daemonsets = [r for r in stack_run(stack).resources if r.type == "kubernetes:apps/v1:DaemonSet"]
    assert daemonsets
    for ds in daemonsets:
        annotations = (ds.inputs.get("metadata") or {}).get("annotations") or {}
        assert (annotations.get(SKIP_AWAIT_ANNOTATION) == "true") is annotated, ds.name
