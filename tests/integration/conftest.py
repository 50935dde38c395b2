"""The session fixtures of the integration tests: the local control plane on a project copy, and the engine on it."""

from __future__ import annotations

import pytest
from local_engine import CLUSTER_TOOLS, ENGINE_TOOLS, KubeApi, LocalEngine, build_tools, copy_project, engine_env, output_of


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory) -> LocalEngine:
    """The control plane's tools on PATH, a file backend, `scripts/local-cluster start` on free ports; stopped at
    the end (every process it started, whatever the tests did). Its tests run while the engine's tools build."""
    bin_dir = build_tools(CLUSTER_TOOLS)
    base = tmp_path_factory.mktemp("engine")
    project = copy_project(base / "project")
    env = engine_env(base, bin_dir)
    engine = LocalEngine(project=project, env=env, api=KubeApi(project / ".state" / "local" / "kubeconfig"))
    try:
        started = engine.cluster("start")
        if started.returncode != 0:
            pytest.fail(f"scripts/local-cluster start failed:\n{output_of(started)}")
        yield engine
    finally:
        stopped = engine.cluster("stop", timeout=120)
        assert stopped.returncode == 0, output_of(stopped)


@pytest.fixture(scope="session")
def local_engine(local_cluster) -> LocalEngine:
    """The Pulumi CLI and provider too (the same PATH), with the stacks the tests deploy."""
    build_tools(ENGINE_TOOLS)
    for stack in ("local", "seeded", "reserved"):
        created = local_cluster.pulumi("stack", "init", stack)
        if created.returncode != 0:
            pytest.fail(f"pulumi stack init {stack} failed:\n{output_of(created)}")
    return local_cluster
