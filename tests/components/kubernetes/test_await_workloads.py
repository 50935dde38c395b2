"""cluster.awaitWorkloads: the engine's readiness wait for the fleet's DaemonSets, a pure decision."""

from __future__ import annotations

import pytest
from fleet_fixtures import spec_of, stack_config, stack_run

from components.kubernetes.meta import SKIP_AWAIT_ANNOTATION, workload_annotations
from core.spec_loader import SpecError
from gpufleet.offline import run_offline


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


def daemonset_annotations(run) -> dict[str, dict]:
    daemonsets = [r for r in run.resources if r.type == "kubernetes:apps/v1:DaemonSet"]
    assert daemonsets
    return {ds.name: (ds.inputs.get("metadata") or {}).get("annotations") or {} for ds in daemonsets}


@pytest.mark.parametrize("await_workloads", [True, False])
def test_daemonsets_carry_the_annotation_only_where_asked(await_workloads):
    config = stack_config("local")
    config["cluster"]["awaitWorkloads"] = await_workloads
    for name, annotations in daemonset_annotations(run_offline(spec_of(config), "local")).items():
        assert (annotations.get(SKIP_AWAIT_ANNOTATION) == "true") is not await_workloads, name


def test_the_example_stacks_await_their_workloads():
    """The local stack too: its simulated nodes run the pods the scheduler binds (scripts/local-cluster)."""
    for stack in ("local", "prod"):
        for name, annotations in daemonset_annotations(stack_run(stack)).items():
            assert SKIP_AWAIT_ANNOTATION not in annotations, (stack, name)
