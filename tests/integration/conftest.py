"""The session fixture of the engine integration tests: tools, a project copy, the local control plane."""

from __future__ import annotations

import pytest
from local_engine import KubeApi, LocalEngine, build_tools, copy_project, engine_env, output_of


@pytest.fixture(scope="session")
def local_engine(tmp_path_factory) -> LocalEngine:
    """Pinned tools on PATH, a file backend, `scripts/local-cluster start` on free ports; stopped at the end
    (every process it started, whatever the tests did)."""
    bin_dir = build_tools()
    base = tmp_path_factory.mktemp("engine")
    project = copy_project(base / "project")
    env = engine_env(base, bin_dir)
    engine = LocalEngine(project=project, env=env, api=KubeApi(project / ".state" / "local" / "kubeconfig"))
    try:
        started = engine.cluster("start")
        if started.returncode != 0:
            pytest.fail(f"scripts/local-cluster start failed:\n{output_of(started)}")
        for stack in ("local", "seeded"):
            created = engine.pulumi("stack", "init", stack)
            if created.returncode != 0:
                pytest.fail(f"pulumi stack init {stack} failed:\n{output_of(created)}")
        yield engine
    finally:
        stopped = engine.cluster("stop", timeout=120)
        assert stopped.returncode == 0, output_of(stopped)
