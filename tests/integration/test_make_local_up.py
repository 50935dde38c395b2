"""`make local-up` and `make local-down` as a developer runs them, on a project copy of their own (own state,
own ports, own simulated cluster, the tracked stacks/Pulumi.local.yaml as committed):

- the fleet comes up with its workloads, and again after `scripts/local-cluster reset` emptied the cluster under
  the state (the engine must refresh, or it reports everything unchanged and deploys nothing);
- the tracked stack file is left as it was (no secrets-provider salt written into it);
- the file backend's state is private to the user.
"""

from __future__ import annotations

import shutil
import stat
import subprocess

import pytest
from fleet_fixtures import ROOT, plan_of, stack_config
from local_engine import KubeApi, build_tools, copy_project, engine_env, output_of

pytestmark = pytest.mark.integration

PLAN = plan_of(stack_config("local"))
STACK_FILE = "stacks/Pulumi.local.yaml"


@pytest.fixture(scope="module")
def developer(local_engine, tmp_path_factory):
    """A project copy with the committed stack file and the Makefile's own backend and passphrase."""
    base = tmp_path_factory.mktemp("make")
    project = copy_project(base / "project")
    shutil.copy2(ROOT / STACK_FILE, project / STACK_FILE)  # as committed, salt included
    env = {k: v for k, v in engine_env(base, build_tools()).items() if not k.startswith("PULUMI_")}
    yield project, env
    make(project, env, "local-down")
    subprocess.run([str(project / "scripts" / "local-cluster"), "reset"], cwd=project, env=env, timeout=120)


def make(project, env, target: str) -> subprocess.CompletedProcess:
    # --assume-old: never rebuild the virtualenv (the copy's .venv is the project's, symlinked).
    return subprocess.run(["make", "--assume-old=.venv/bin/gpufleet", target], cwd=project, env=env,
                          capture_output=True, text=True, timeout=1200)


def fleet_is_there(project) -> None:
    api = KubeApi(project / ".state" / "local" / "kubeconfig")
    for tenant in PLAN.tenants:
        assert api.get(f"/api/v1/namespaces/{tenant.name}/resourcequotas/gpufleet-quota"), tenant.name
    plugin = api.get("/apis/apps/v1/namespaces/gpu-system/daemonsets/nvidia-device-plugin")
    assert plugin and plugin["status"]["numberReady"] == plugin["status"]["desiredNumberScheduled"] > 0


def test_local_up_after_a_reset_deploys_the_fleet_again_and_leaves_the_tree_clean(developer):
    project, env = developer
    first = make(project, env, "local-up")
    assert first.returncode == 0, output_of(first)
    fleet_is_there(project)

    reset = subprocess.run([str(project / "scripts" / "local-cluster"), "reset"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=300)
    assert reset.returncode == 0, output_of(reset)
    again = make(project, env, "local-up")
    assert again.returncode == 0, output_of(again)
    fleet_is_there(project)

    down = make(project, env, "local-down")
    assert down.returncode == 0, output_of(down)
    assert (project / STACK_FILE).read_bytes() == (ROOT / STACK_FILE).read_bytes()

    state = project / ".state"
    exposed = [str(p.relative_to(state)) for p in (state / "pulumi").rglob("*")
               if not p.is_symlink() and stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert not exposed, f"state readable by others: {exposed[:10]}"
    assert stat.S_IMODE(state.stat().st_mode) & 0o077 == 0
